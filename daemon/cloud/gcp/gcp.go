// Package gcp connects keyward to Google Cloud KMS through the official
// client (cloud.google.com/go/kms/apiv1): the cloud.Connector for one
// project's chosen locations and key rings, its credentials (a
// service-account key, workload identity federation, application default
// credentials), the mapping of crypto keys and their versions onto the
// inventory, BYOK through import jobs, and usage from Cloud Audit Logs.
package gcp

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/logging/logadmin"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"github.com/keyward/keyward/engine"
)

// Project is the connector for one [[gcp]] section.
type Project struct {
	cfg    Settings
	client *kms.KeyManagementClient
	logOpt []option.ClientOption
	logMu  sync.Mutex
	logs   *logadmin.Client // made on first use (audit.go)
	dials  *dialErrors
	view   *view
	// importWait is how long to wait between polls of an import job or an
	// imported version (tests shorten it).
	importWait time.Duration
}

var _ cloud.Connector = (*Project)(nil)

// New returns the connector for the [[gcp]] section cfg, which must have
// passed config validation. It reads the credentials file (a
// service-account key must be mode 0600) but calls no Google API.
func New(ctx context.Context, cfg Settings) (*Project, error) {
	dials := &dialErrors{}
	kmsOpts, err := clientOptions(cfg, cfg.Endpoint, dials)
	if err != nil {
		return nil, fmt.Errorf("gcp %s: %w", cfg.Name, err)
	}
	client, err := kms.NewKeyManagementClient(ctx, kmsOpts...)
	if err != nil {
		return nil, fmt.Errorf("gcp %s: start the Cloud KMS client (credential %q): %w", cfg.Name, cfg.CredentialKind(), err)
	}
	logEP := cfg.LoggingEndpoint
	if logEP == "" && cfg.Endpoint != "" && cfg.CredentialKind() == CredNone {
		logEP = cfg.Endpoint // keyward's fake serves both
	}
	logOpts, err := clientOptions(cfg, logEP, dials)
	if err != nil {
		return nil, fmt.Errorf("gcp %s: %w", cfg.Name, err)
	}
	p := &Project{cfg: cfg, client: client, logOpt: logOpts, importWait: 2 * time.Second, dials: dials}
	p.view = newView(p, cfg.FullEvery())
	return p, nil
}

// clientOptions are the options of a client of one endpoint ("" = the
// client's default): credentials, endpoint, proxy.
func clientOptions(cfg Settings, endpoint string, dials *dialErrors) ([]option.ClientOption, error) {
	// The client libraries' own log stays off even when
	// GOOGLE_SDK_GO_LOGGING_LEVEL is set: it would write to stderr (over
	// the TUI), and at debug it holds request and response bodies, which
	// can carry key material.
	opts := []option.ClientOption{option.WithLogger(slog.New(slog.DiscardHandler))}
	if endpoint != "" {
		if lb, _ := checkEndpoint(endpoint); lb {
			// keyward's fake on a loopback port: plaintext gRPC (through
			// the proxy too, when one is set).
			dial := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithChainUnaryInterceptor(guardPages)}
			if cfg.HTTPSProxy != "" {
				pu, err := url.Parse(cfg.HTTPSProxy)
				if err != nil {
					return nil, fmt.Errorf("https_proxy: %w", err)
				}
				dial = append(dial, grpc.WithContextDialer(connectDialer(pu, dials)))
			}
			conn, err := grpc.NewClient("passthrough:///"+endpoint, dial...)
			if err != nil {
				return nil, fmt.Errorf("endpoint %s: %w", endpoint, err)
			}
			return append(opts, option.WithGRPCConn(conn)), nil
		}
		opts = append(opts, option.WithEndpoint(endpoint))
	}
	opts = append(opts, option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(guardPages)))
	switch cfg.CredentialKind() {
	case CredServiceAccount, CredWorkloadIdentity:
		b, err := readCredentials(cfg.CredentialKind(), cfg.CredentialsFile)
		if err != nil {
			return nil, err
		}
		typ := option.ServiceAccount
		if cfg.CredentialKind() == CredWorkloadIdentity {
			typ = option.ExternalAccount
		}
		opts = append(opts, option.WithAuthCredentialsJSON(typ, b))
	case CredNone:
		opts = append(opts, option.WithoutAuthentication())
	}
	if cfg.HTTPSProxy != "" {
		pu, err := url.Parse(cfg.HTTPSProxy)
		if err != nil {
			return nil, fmt.Errorf("https_proxy: %w", err)
		}
		opts = append(opts, option.WithGRPCDialOption(grpc.WithContextDialer(connectDialer(pu, dials))))
	}
	return opts, nil
}

// dialErrors keeps the proxy's last refusal, which gRPC's retries turn
// into a bare "unavailable": a sync that fails says it.
type dialErrors struct {
	mu   sync.Mutex
	last error
}

func (d *dialErrors) set(err error) {
	d.mu.Lock()
	d.last = err
	d.mu.Unlock()
}

func (d *dialErrors) get() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last
}

// connectDialer opens gRPC's connections through an HTTP CONNECT proxy.
func connectDialer(proxy *url.URL, d *dialErrors) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		c, err := connectThrough(ctx, proxy, addr)
		d.set(err)
		return c, err
	}
}

// connectThrough opens a tunnel to addr through the proxy.
func connectThrough(ctx context.Context, proxy *url.URL, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", proxy.Host)
	if err != nil {
		return nil, fmt.Errorf("https_proxy %s: %w", proxy.Host, err)
	}
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: addr}, Host: addr, Header: http.Header{}}
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, fmt.Errorf("https_proxy %s: %w", proxy.Host, err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("https_proxy %s: %w", proxy.Host, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		c.Close()
		return nil, fmt.Errorf("https_proxy %s refused CONNECT %s: %s", proxy.Host, addr, resp.Status)
	}
	_ = c.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		// The server spoke first (an HTTP/2 server sends its
		// settings at once): what was read with the answer is its.
		return &bufferedConn{Conn: c, r: br}, nil
	}
	return c, nil
}

// NewSource returns the synchronised source of one [[gcp]] section.
func NewSource(cfg Settings, logger *slog.Logger) (*cloud.SyncSource, error) {
	routeGRPCLog(logger)
	p, err := New(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	// The project's view decides which keys' versions to list again
	// (view.go).
	return cloud.NewViewSource(cfg.Name, p, cfg.Interval(), logger), nil
}

// Kind is "gcp".
func (p *Project) Kind() string { return "gcp" }

// Address names the project (and the endpoint when it is not Google's).
func (p *Project) Address() string {
	a := "projects/" + p.cfg.Project
	if p.cfg.Endpoint != "" {
		a += " at " + p.cfg.Endpoint
	}
	return a
}

// Geography is empty: keyward's sealed copy of uploaded material restores
// into any project.
func (p *Project) Geography() string { return "" }

// Capabilities: Google never deletes a key or key ring, only destroys
// versions after their scheduled destruction (no purge), and never
// exports material: backup and restore are of what keyward uploaded
// (backup.go), and a key without it says so (engine.TagUnsupported).
func (p *Project) Capabilities() cloud.Capabilities {
	return cloud.Capabilities{engine.CapCreate, engine.CapUpload, engine.CapUploadOct, engine.CapUpdate, engine.CapRotate,
		engine.CapDelete, engine.CapRecover, engine.CapRotationPolicy, engine.CapBackup, engine.CapRestore,
		engine.CapVersionEnable, engine.CapVersionDelete, engine.CapVersionRecover, engine.CapVersionPrimary}
}

// Close releases the clients' connections.
func (p *Project) Close() error {
	p.logMu.Lock()
	if p.logs != nil {
		_ = p.logs.Close()
		p.logs = nil
	}
	p.logMu.Unlock()
	return p.client.Close()
}

// Calls returns how many requests of each Cloud KMS API the connector made.
func (p *Project) Calls() map[string]int { return p.view.calls.Counts() }

// Purge is refused: Google destroys a version only when its scheduled
// destruction comes due, and never deletes a key or a key ring.
func (p *Project) Purge(_ context.Context, name string) error {
	return &cloud.Error{Kind: cloud.ErrUnsupported, Op: "purge " + name,
		Reason: "Google Cloud KMS has no immediate purge: a version scheduled for destruction is destroyed when its key's destroy-scheduled duration ends, and keys and key rings are never deleted"}
}

// ref is a crypto key as keyward names it: location/ring/key.
type ref struct{ loc, ring, key string }

func (r ref) String() string { return r.loc + "/" + r.ring + "/" + r.key }

func (p *Project) ringName(r ref) string { return gcpname.KeyRingName(p.cfg.Project, r.loc, r.ring) }
func (p *Project) keyName(r ref) string {
	return gcpname.CryptoKeyName(p.cfg.Project, r.loc, r.ring, r.key)
}

// refOf reads a key name: location/ring/key (as the inventory shows it),
// a full resource name of this project, or a bare key ID in the ring of
// tag gcp:key-ring or create_in.
func (p *Project) refOf(op, name, ring string) (ref, error) {
	bad := func(format string, args ...any) (ref, error) {
		return ref{}, &cloud.Error{Kind: cloud.ErrInvalid, Op: op, Reason: fmt.Sprintf(format, args...)}
	}
	if strings.HasPrefix(name, "projects/") {
		n, err := gcpname.ParseName(gcpname.KindCryptoKey, name)
		if err != nil {
			return bad("%v", err)
		}
		if n.Project != p.cfg.Project {
			return bad("%s is in project %s; this source is project %s", name, n.Project, p.cfg.Project)
		}
		return ref{n.Location, n.KeyRing, n.CryptoKey}, nil
	}
	parts := strings.Split(name, "/")
	switch len(parts) {
	case 3:
		r := ref{parts[0], parts[1], parts[2]}
		if !gcpname.ValidLocation(r.loc) || !gcpname.ValidID(r.ring) || !gcpname.ValidID(r.key) {
			return bad("%q is not location/ring/key (IDs are 1 to 63 letters, digits, underscores or hyphens)", name)
		}
		return r, nil
	case 1:
		if !gcpname.ValidID(name) {
			return bad("key ID %q must be 1 to 63 letters, digits, underscores or hyphens", name)
		}
		if ring == "" {
			ring = p.cfg.CreateRing()
		}
		loc, rid, ok := strings.Cut(ring, "/")
		if !ok || !gcpname.ValidLocation(loc) || !gcpname.ValidID(rid) {
			if ring == "" {
				return bad("name the key as location/ring/%s, or give the tag %s=location/ring (or set create_in for this source)", name, TagKeyRing)
			}
			return bad("%s %q is not location/ring", TagKeyRing, ring)
		}
		return ref{loc, rid, name}, nil
	}
	return bad("%q is not location/ring/key", name)
}

// bufferedConn reads first what the proxy's answer was read with.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }
