// Package vault is a stateful in-memory Azure Key Vault for tests and the
// demo: keys with versions, attributes, tags, soft delete with recover and
// purge, backup and restore, rotation policies and paging, built on the
// SDK's own azkeys/fake server and served over HTTPS on 127.0.0.1 so the
// real azkeys.Client talks to it across a real TLS connection.
package vault

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys/fake"
	"github.com/google/uuid"
)

// APIVersion is the Key Vault REST API version the emulator speaks.
const APIVersion = "2025-07-01"

// Options configure an emulated vault.
type Options struct {
	// Tenant is the Entra ID tenant GUID the auth challenge names (default:
	// a random GUID).
	Tenant string
	// Token is the bearer token accepted (default: a random one).
	Token string
	// PageSize is the number of entries per listing page (default 25, as
	// Azure).
	PageSize int
	// Geography: backups restore only between emulators of the same
	// geography (default "europe").
	Geography string
	// Now is the vault's clock (default time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Server is a running emulated vault.
type Server struct {
	// URL is the vault URL (https://127.0.0.1:port).
	URL string
	// CACert is the PEM certificate that signed the server certificate.
	CACert []byte
	// Tenant and Token are what a client must present.
	Tenant, Token string

	opts     Options
	st       *state
	fakeTr   *fake.ServerTransport
	srv      *http.Server
	ln       net.Listener
	requests atomic.Int64
	faultMu  sync.Mutex
	fault    *Fault
	between  func(list string, skip int)
	before   func(w http.ResponseWriter, r *http.Request) bool
	done     chan struct{}
}

// FaultKind is a misbehaviour the emulator can be told to show.
type FaultKind int

const (
	// FaultThrottle answers 429 Too Many Requests with Retry-After.
	FaultThrottle FaultKind = iota + 1
	// FaultGarbage answers 200 with a body that is not JSON.
	FaultGarbage
	// FaultForbidden answers 403: the identity has no access policy.
	FaultForbidden
	// FaultBadToken refuses every bearer token with 401.
	FaultBadToken
	// FaultBadListing answers list requests with JSON entries lacking ids.
	FaultBadListing
)

// Fault is injected misbehaviour: after After more good requests, every
// request gets Kind until ClearFault.
type Fault struct {
	Kind       FaultKind
	After      int
	RetryAfter time.Duration
}

// Start serves a new empty vault on 127.0.0.1 until ctx ends or Close.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Tenant == "" {
		o.Tenant = uuid.NewString()
	}
	if o.Token == "" {
		o.Token = "emulator-" + fmt.Sprintf("%x", randomBytes(16))
	}
	if o.PageSize <= 0 {
		o.PageSize = 25
	}
	if o.Geography == "" {
		o.Geography = "europe"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	caPEM, cert, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("vault emulator certificate: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("vault emulator listen: %w", err)
	}
	s := &Server{URL: "https://" + ln.Addr().String(), CACert: caPEM, Tenant: o.Tenant, Token: o.Token,
		opts: o, st: newState(o.Now), ln: ln, done: make(chan struct{})}
	s.fakeTr = fake.NewServerTransport(s.fakeServer())
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)}
	tl := tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(tl)
	}()
	go func() {
		select {
		case <-ctx.Done():
			_ = s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// Close stops the server (the vault "goes down").
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Requests is the number of HTTP requests served so far.
func (s *Server) Requests() int64 { return s.requests.Load() }

// SetFault makes the vault misbehave; ClearFault restores it.
func (s *Server) SetFault(f Fault) { s.faultMu.Lock(); s.fault = &f; s.faultMu.Unlock() }

// ClearFault makes the vault behave again.
func (s *Server) ClearFault() { s.faultMu.Lock(); s.fault = nil; s.faultMu.Unlock() }

// BetweenPages makes f run before each page of a key listing but the first
// is served, with the listing ("keys" or "deletedkeys") and the position of
// the page, so a test can change the vault between two pages, as other
// clients of a real vault do. Pages are positions in the sorted names, as
// Azure's $skiptoken is: a key created or deleted between pages shifts
// them, and a key is listed twice or not at all. nil turns it off.
func (s *Server) BetweenPages(f func(list string, skip int)) {
	s.faultMu.Lock()
	s.between = f
	s.faultMu.Unlock()
}

// BeforeRequest makes f run before each request is served (it may block,
// holding the request as a slow vault does), so a test can act while a
// client waits inside a call; f returning true has answered the request
// itself. nil turns it off.
func (s *Server) BeforeRequest(f func(w http.ResponseWriter, r *http.Request) bool) {
	s.faultMu.Lock()
	s.before = f
	s.faultMu.Unlock()
}

func (s *Server) currentFault() *Fault {
	s.faultMu.Lock()
	defer s.faultMu.Unlock()
	if s.fault == nil {
		return nil
	}
	if s.fault.After > 0 {
		s.fault.After--
		return nil
	}
	f := *s.fault
	return &f
}

// CertPool returns a pool holding the emulator's CA.
func (s *Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.CACert)
	return p
}

// WriteFiles writes the CA certificate and the token into dir (mode 0600)
// for a keyward.toml [[azure]] section: ca_file and token_file.
func (s *Server) WriteFiles(dir string) (caFile, tokenFile string, err error) {
	caFile, tokenFile = filepath.Join(dir, "vault-ca.pem"), filepath.Join(dir, "vault-token")
	if err := os.WriteFile(caFile, s.CACert, 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(tokenFile, []byte(s.Token+"\n"), 0o600); err != nil {
		return "", "", err
	}
	return caFile, tokenFile, nil
}

func (s *Server) challenge(w http.ResponseWriter, code, msg string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="https://vault.azure.net"`, s.Tenant))
	writeAzureError(w, http.StatusUnauthorized, code, msg)
}

func writeAzureError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-keyvault-service-version", "1.9.0.0")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// ServeHTTP is the REST front: fault injection, challenge authentication,
// the three listings (served here, with absolute nextLinks), and a router
// from method and path to the fake server's operation names.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.faultMu.Lock()
	before := s.before
	s.faultMu.Unlock()
	if before != nil && before(w, r) {
		return
	}
	// The vault's clock, which stamps its keys' dates, as Azure's Date
	// header shows its own.
	w.Header().Set("Date", s.opts.Now().UTC().Format(http.TimeFormat))
	if f := s.currentFault(); f != nil {
		switch f.Kind {
		case FaultThrottle:
			w.Header().Set("Retry-After", strconv.Itoa(int(max(f.RetryAfter, time.Second)/time.Second)))
			writeAzureError(w, http.StatusTooManyRequests, "Throttled", "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached")
			return
		case FaultGarbage:
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, "<html><body>502 upstream gateway garbage")
			return
		case FaultForbidden:
			if r.Header.Get("Authorization") != "" {
				writeAzureError(w, http.StatusForbidden, "Forbidden", "The user, group or application 'appid=00000000-0000-0000-0000-000000000000' does not have keys list permission on key vault 'emulator'. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287")
				return
			}
		case FaultBadToken:
			if r.Header.Get("Authorization") != "" {
				s.challenge(w, "Unauthorized", "AKV10032: Invalid issuer. Expected one of https://sts.windows.net/"+s.Tenant+"/")
				return
			}
		}
		if f.Kind == FaultBadListing && r.Method == http.MethodGet && (r.URL.Path == "/keys" || r.URL.Path == "/deletedkeys") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"value":[{"attributes":{"enabled":true,"updated":1700000000}}],"nextLink":null}`)
			return
		}
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		s.challenge(w, "Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if auth != "Bearer "+s.Token {
		s.challenge(w, "Unauthorized", "AKV10022: Invalid audience or token.")
		return
	}
	if r.URL.Query().Get("api-version") == "" {
		writeAzureError(w, http.StatusBadRequest, "BadParameter", "The api-version query parameter is required")
		return
	}
	op, list, name := route(r.Method, r.URL.Path)
	switch list {
	case listKeys, listDeleted:
		s.serveList(w, r, list, "")
		return
	case listVersions:
		s.serveList(w, r, list, name)
		return
	}
	if op == "" {
		writeAzureError(w, http.StatusNotFound, "NotFound", fmt.Sprintf("%s %s is not a Key Vault keys operation", r.Method, r.URL.Path))
		return
	}
	ri := &reqInfo{}
	// The fake transport is handed a context that is never cancelled: when
	// the request's context ends mid-call, azkeys' fake (v1.5.0) closes its
	// result channel while its worker may still send on it, a panic that
	// would take the whole process down. The in-memory call is short.
	ctx := context.WithValue(context.WithoutCancel(r.Context()), runtime.CtxAPINameKey{}, op)
	ctx = context.WithValue(ctx, reqInfoKey{}, ri)
	req := r.Clone(ctx)
	req.URL.Scheme, req.URL.Host = "https", r.Host
	resp, err := s.fakeTr.Do(req)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			msg := ri.msg
			if msg == "" {
				msg = re.ErrorCode
			}
			writeAzureError(w, re.StatusCode, re.ErrorCode, msg)
			return
		}
		writeAzureError(w, http.StatusBadRequest, "BadParameter", err.Error())
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if w.Header().Get("Content-Type") == "" && resp.StatusCode != http.StatusNoContent {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

type listKind int

const (
	listNone listKind = iota
	listKeys
	listDeleted
	listVersions
)

// routes map a method and a path's segments ("*" matches any one) to the
// fake server's operation name, or to one of the listings served here; the
// first that matches wins.
var routes = []struct {
	method, path, op string
	list             listKind
}{
	{http.MethodGet, "keys", "", listKeys},
	{http.MethodGet, "deletedkeys", "", listDeleted},
	{http.MethodPost, "keys/restore", "Client.RestoreKey", listNone},
	{http.MethodPut, "keys/*", "Client.ImportKey", listNone},
	{http.MethodDelete, "keys/*", "Client.DeleteKey", listNone},
	{http.MethodGet, "keys/*", "Client.GetKey", listNone},
	{http.MethodPatch, "keys/*", "Client.UpdateKey", listNone},
	{http.MethodGet, "keys/*/versions", "", listVersions},
	{http.MethodPost, "keys/*/create", "Client.CreateKey", listNone},
	{http.MethodPost, "keys/*/backup", "Client.BackupKey", listNone},
	{http.MethodPost, "keys/*/rotate", "Client.RotateKey", listNone},
	{http.MethodGet, "keys/*/rotationpolicy", "Client.GetKeyRotationPolicy", listNone},
	{http.MethodPut, "keys/*/rotationpolicy", "Client.UpdateKeyRotationPolicy", listNone},
	{http.MethodGet, "keys/*/*", "Client.GetKey", listNone}, // a version
	{http.MethodPatch, "keys/*/*", "Client.UpdateKey", listNone},
	{http.MethodGet, "deletedkeys/*", "Client.GetDeletedKey", listNone},
	{http.MethodDelete, "deletedkeys/*", "Client.PurgeDeletedKey", listNone},
	{http.MethodPost, "deletedkeys/*/recover", "Client.RecoverDeletedKey", listNone},
}

// route maps a method and path to the fake server's operation name, or
// to one of the listings served here, by routes; name is the key's name,
// the segment a route's second "*" matches.
func route(method, path string) (op string, list listKind, name string) {
	seg := strings.Split(strings.Trim(path, "/"), "/")
	for _, r := range routes {
		pat := strings.Split(r.path, "/")
		if r.method != method || len(pat) != len(seg) {
			continue
		}
		match := true
		for i, p := range pat {
			match = match && (p == "*" || p == seg[i])
		}
		if match {
			if len(pat) > 1 && pat[1] == "*" {
				name = seg[1]
			}
			return r.op, r.list, name
		}
	}
	return "", 0, ""
}

// serveList serves one page of a listing. The page position is in
// $skiptoken and the nextLink is absolute and carries api-version, as
// Azure's are; listings never share state.
func (s *Server) serveList(w http.ResponseWriter, r *http.Request, kind listKind, name string) {
	skip := 0
	if t := r.URL.Query().Get("$skiptoken"); t != "" {
		n, err := strconv.Atoi(t)
		if err != nil || n < 0 {
			writeAzureError(w, http.StatusBadRequest, "BadParameter", "invalid $skiptoken")
			return
		}
		skip = n
	}
	if kind != listVersions && skip > 0 {
		s.faultMu.Lock()
		f := s.between
		s.faultMu.Unlock()
		if f != nil {
			list := "keys"
			if kind == listDeleted {
				list = "deletedkeys"
			}
			f(list, skip)
		}
	}
	size := s.opts.PageSize
	if m := r.URL.Query().Get("maxresults"); m != "" {
		if n, err := strconv.Atoi(m); err == nil && n > 0 && n <= 25 {
			size = n
		}
	}
	s.st.mu.Lock()
	var body any
	var total int
	next := func() *string {
		if skip+size >= total {
			return nil
		}
		q := url.Values{"api-version": {APIVersion}, "$skiptoken": {strconv.Itoa(skip + size)}}
		return to.Ptr(s.URL + r.URL.Path + "?" + q.Encode())
	}
	switch kind {
	case listKeys, listDeleted:
		names := s.st.sortedNames(kind == listDeleted)
		total = len(names)
		end := min(skip+size, total)
		start := min(skip, total)
		if kind == listKeys {
			res := azkeys.KeyPropertiesListResult{Value: []*azkeys.KeyProperties{}}
			for _, n := range names[start:end] {
				k := s.st.keys[n]
				cur := k.current()
				kid := azkeys.ID(s.URL + "/keys/" + n)
				res.Value = append(res.Value, &azkeys.KeyProperties{KID: &kid, Attributes: s.attrs(cur), Tags: toPtrTags(cur.tags)})
			}
			res.NextLink = next()
			body = res
		} else {
			res := azkeys.DeletedKeyPropertiesListResult{Value: []*azkeys.DeletedKeyProperties{}}
			for _, n := range names[start:end] {
				k := s.st.keys[n]
				cur := k.current()
				res.Value = append(res.Value, &azkeys.DeletedKeyProperties{KID: s.kid(k, cur), Attributes: s.attrs(cur), Tags: toPtrTags(cur.tags),
					RecoveryID: to.Ptr(s.URL + "/deletedkeys/" + n), DeletedDate: k.deleted, ScheduledPurgeDate: k.purgeAt})
			}
			res.NextLink = next()
			body = res
		}
	case listVersions:
		k, _ := s.st.live(name, "")
		if k == nil {
			s.st.mu.Unlock()
			writeAzureError(w, http.StatusNotFound, "KeyNotFound", fmt.Sprintf("A key with (name/id) %s was not found in this key vault.", name))
			return
		}
		total = len(k.versions)
		end := min(skip+size, total)
		start := min(skip, total)
		res := azkeys.KeyPropertiesListResult{Value: []*azkeys.KeyProperties{}}
		for _, v := range k.versions[start:end] {
			res.Value = append(res.Value, &azkeys.KeyProperties{KID: s.kid(k, v), Attributes: s.attrs(v), Tags: toPtrTags(v.tags)})
		}
		res.NextLink = next()
		body = res
	}
	s.st.mu.Unlock()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(body); err != nil {
		writeAzureError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// selfSigned makes a CA and a 127.0.0.1 server certificate signed by it.
func selfSigned() (caPEM []byte, cert tls.Certificate, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "keyward vault emulator CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, cert, err
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, cert, err
	}
	cert = tls.Certificate{Certificate: [][]byte{leafDER, caDER}, PrivateKey: leafKey}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), cert, nil
}
