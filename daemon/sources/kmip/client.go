package kmip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/keyward/keyward/daemon/kmipframe"
)

// connect returns the open client, or dials the addresses in order until one
// answers Discover Versions. All failures are explained together.
func (s *Source) connect(ctx context.Context) (*kmipclient.Client, error) {
	if s.client != nil {
		// Files replaced behind the daemon's back (a configured cert_file
		// renewed in place) are seen here, at the next poll.
		if changed, _ := s.ident.refresh(false, s.deps.Now()); !changed && s.clientGen == s.ident.generation() {
			return s.client, nil
		}
		s.log.Info("client identity changed; reconnecting")
		s.closeClient()
	}
	if err := s.loadTLS(); err != nil {
		if s.ident.usable() != nil {
			return nil, &connectError{msg: "no usable client identity: " + err.Error(), err: err}
		}
		if s.tlsCfg == nil {
			return nil, &connectError{msg: err.Error(), err: err}
		}
		s.log.Warn("cannot reload the TLS settings; using the ones loaded before", "err", err)
	}
	var fails []string
	var firstErr error
	gen := s.ident.generation()
	for _, addr := range s.cfg.Addresses {
		opts := []kmipclient.Option{kmipclient.WithDialerUnsafe(s.noResend(tlsDialer(addr, s.tlsCfg.Clone())))}
		if s.ver != nil {
			opts = append(opts, kmipclient.EnforceVersion(*s.ver))
		}
		dctx, cancel := context.WithTimeout(ctx, time.Duration(s.cfg.Timeout))
		c, err := kmipclient.DialContext(dctx, addr, opts...)
		cancel()
		if err == nil {
			s.client, s.connected, s.failedFirst, s.clientGen = c, addr, fails, gen
			s.log.Debug("connected to KMS", "addr", addr, "kmip", c.Version().String())
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if firstErr == nil {
			firstErr = err
		}
		why := explain(err, s.leaf, s.cfg.ServerName, addr)
		if negotiationFailed(err) {
			// Find out what the KMS would have chosen, to say what to change.
			srv := probeServer(ctx, addr, s.cfg.ServerName, time.Duration(s.cfg.Timeout))
			why = negotiationAdvice(err, offer{min: s.minTLS, suites: s.suites}, srv, s.leaf)
		}
		fails = append(fails, addr+": "+why)
	}
	return nil, &connectError{msg: strings.Join(fails, "; "), err: firstErr}
}

// errNotResent is a request whose connection broke before its answer
// came, not sent again because the KMS may have done it already.
var errNotResent = errors.New("the connection to the KMS broke before its answer came, and the request was not sent again: the KMS may have done it")

// noResend guards dial, which the KMIP client also calls to send a
// request again on a new connection when the connection breaks under it
// (kmip-go resends after EOF): while s.once is set (a Create, which done
// twice makes two keys of one name), that redial fails with errNotResent.
func (s *Source) noResend(dial kmipclient.DialerFunc) kmipclient.DialerFunc {
	return func(ctx context.Context) (net.Conn, error) {
		if s.once.Load() {
			return nil, errNotResent
		}
		return dial(ctx)
	}
}

// tlsDialer dials addr over TLS. Under TLS 1.3 the KMS's verdict on the
// client certificate comes after the handshake, before the first data it
// sends: the dialer sends one Discover Versions itself and reads the answer
// (verdict), so that a rejection is reported by the dial (with the alert)
// rather than surfacing inside the KMIP client's reader goroutine, which in
// kmip-go v0.8.1 races with its writer on that path. It costs one round
// trip, not a fixed wait.
func tlsDialer(addr string, cfg *tls.Config) kmipclient.DialerFunc {
	return func(ctx context.Context) (net.Conn, error) {
		d := tls.Dialer{Config: cfg}
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		tc := conn.(*tls.Conn)
		if tc.ConnectionState().Version >= tls.VersionTLS13 {
			if err := verdict(ctx, tc); err != nil {
				conn.Close()
				return nil, err
			}
		}
		// kmip-go's reader goroutine decodes what the KMS sends, and its
		// decoder panics on some malformed messages (16 bytes do it),
		// which no recover of ours can catch: the guard turns such a
		// message into a read error, and the request fails instead of the
		// daemon (kmipframe).
		return kmipframe.Guard(conn, ttlv.DefaultMaxMessageSize), nil
	}
}

// verdict sends a Discover Versions on a fresh connection and reads the
// answer: the error is the KMS's rejection of the client certificate (a TLS
// alert, or the connection closed), or an answer that is no KMIP message.
func verdict(ctx context.Context, tc *tls.Conn) error {
	dl, ok := ctx.Deadline()
	if !ok {
		dl = time.Now().Add(30 * time.Second)
	}
	_ = tc.SetDeadline(dl)
	defer func() { _ = tc.SetDeadline(time.Time{}) }()
	stream := ttlv.NewStream(tc, 1<<20) // not closed: the connection goes on
	req := kmip.NewRequestMessage(kmip.V1_1, &payloads.DiscoverVersionsRequestPayload{})
	if err := stream.Send(&req); err != nil {
		return err
	}
	var resp kmip.ResponseMessage
	if err := stream.Recv(&resp); err != nil {
		if ttlv.IsErrEncoding(err) {
			return fmt.Errorf("the server's answer to Discover Versions is not a KMIP message (not a KMIP server?): %w", err)
		}
		return err
	}
	return nil
}

type connectError struct {
	msg string
	err error
}

func (e *connectError) Error() string { return "cannot connect to the KMS: " + e.msg }
func (e *connectError) Unwrap() error { return e.err }

// batch sends payloads in request messages of at most BatchSize items,
// continuing past per-item errors, and returns one result per payload.
func (s *Source) batch(ctx context.Context, c *kmipclient.Client, pls []kmip.OperationPayload, st *PollStats) ([]kmip.ResponseBatchItem, error) {
	out := make([]kmip.ResponseBatchItem, 0, len(pls))
	for i := 0; i < len(pls); i += s.cfg.BatchSize {
		end := min(i+s.cfg.BatchSize, len(pls))
		rctx, cancel := context.WithTimeout(ctx, time.Duration(s.cfg.Timeout))
		msg := kmip.NewRequestMessage(c.Version(), pls[i:end]...)
		if end-i > 1 {
			msg.Header.BatchErrorContinuationOption = kmip.BatchErrorContinuationOptionContinue
		}
		resp, err := c.Roundtrip(rctx, &msg)
		cancel()
		st.Requests++
		op := ttlv.EnumStr(pls[i].Operation())
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				err = &slowError{op: op, after: time.Duration(s.cfg.Timeout), err: err}
			}
			if ttlv.IsErrEncoding(err) {
				err = &answerError{kms: s.answerer(), what: fmt.Sprintf("answered %s (%s) with a message keyward cannot read (%v)", op, subjects(pls[i:end]), err)}
			}
			return nil, fmt.Errorf("KMS request (%s): %w", op, err)
		}
		// kmip-go's own check says only "Batch count mismatch"; an item
		// missing or one too many would pair answers with the wrong keys.
		if n := len(resp.BatchItem); n != end-i || int(resp.Header.BatchCount) != n {
			return nil, fmt.Errorf("KMS request (%s): %w", op, &answerError{kms: s.answerer(), what: fmt.Sprintf(
				"answered %d items (its header says %d) to a request of %d (%s)", n, resp.Header.BatchCount, end-i, subjects(pls[i:end]))})
		}
		for j, bi := range resp.BatchItem {
			if bi.Operation != 0 && bi.Operation != pls[i+j].Operation() {
				return nil, fmt.Errorf("KMS request (%s): %w", op, &answerError{kms: s.answerer(), what: fmt.Sprintf(
					"answered item %d (%s) with a %s", j+1, subjects(pls[i+j:i+j+1]), ttlv.EnumStr(bi.Operation))})
			}
		}
		out = append(out, resp.BatchItem...)
	}
	return out, nil
}

// answerError is an answer of the KMS that keyward cannot use: nothing of
// it was taken.
type answerError struct {
	kms  string // the source and the address that answered
	what string
}

func (e *answerError) Error() string {
	return fmt.Sprintf("the KMS %s %s; nothing of that answer was used", e.kms, e.what)
}

// answerer names the KMS for an error: the source and the address the
// connection is to. The caller holds pollMu.
func (s *Source) answerer() string {
	if s.connected == "" {
		return "of source " + s.cfg.Name
	}
	return "of source " + s.cfg.Name + " at " + s.connected
}

// subjects says which objects payloads ask about, for errors: identifiers
// and names, the first few.
func subjects(pls []kmip.OperationPayload) string {
	var out []string
	for _, pl := range pls {
		var one string
		switch p := pl.(type) {
		case *payloads.GetRequestPayload:
			one = p.UniqueIdentifier
		case *payloads.GetAttributesRequestPayload:
			one = p.UniqueIdentifier
		case *payloads.ActivateRequestPayload:
			one = p.UniqueIdentifier
		case *payloads.LocateRequestPayload:
			for _, a := range p.Attribute {
				if n, ok := a.AttributeValue.(kmip.Name); ok {
					one = fmt.Sprintf("%q", n.NameValue)
				}
			}
		case *payloads.CreateRequestPayload:
			for _, a := range p.TemplateAttribute.Attribute {
				if n, ok := a.AttributeValue.(kmip.Name); ok {
					one = fmt.Sprintf("%q", n.NameValue)
				}
			}
		}
		if one == "" {
			one = ttlv.EnumStr(pl.Operation())
		}
		if len(out) == 3 {
			out = append(out, fmt.Sprintf("and %d more", len(pls)-3))
			break
		}
		out = append(out, one)
	}
	return strings.Join(out, ", ")
}

// slowError is a request the KMS did not answer within the timeout (the
// poll's own context still running).
type slowError struct {
	op    string
	after time.Duration
	err   error
}

func (e *slowError) Error() string {
	return fmt.Sprintf("no answer to %s within %s: %v", e.op, e.after, e.err)
}
func (e *slowError) Unwrap() error { return e.err }

// itemErr describes a failed batch item in an administrator's words.
func itemErr(bi kmip.ResponseBatchItem) error {
	if bi.ResultStatus == kmip.ResultStatusSuccess {
		return nil
	}
	msg := bi.ResultMessage
	if msg == "" {
		msg = "no message"
	}
	return &kmipError{reason: bi.ResultReason, op: bi.Operation, msg: msg}
}

type kmipError struct {
	reason kmip.ResultReason
	op     kmip.Operation
	msg    string
}

func (e *kmipError) Error() string { return e.brief() + " (" + e.msg + ")" }

// brief is the refusal without the KMS's message text, which may carry
// request ids or times: the same refusal reads the same at every poll.
func (e *kmipError) brief() string {
	return fmt.Sprintf("the KMS refused %s: %s", ttlv.EnumStr(e.op), ttlv.EnumStr(e.reason))
}

// brief is err in words that stay the same while the fault does.
func brief(err error) string {
	if ke := (*kmipError)(nil); errors.As(err, &ke) {
		return ke.brief()
	}
	return err.Error()
}

// query is one Locate of symmetric keys: with a Name (or pattern) unless
// name is empty, and of one object unless uid is empty.
type query struct {
	name string
	uid  string
}

// byName is one query per name.
func byName(names ...string) []query {
	qs := make([]query, len(names))
	for i, n := range names {
		qs[i].name = n
	}
	return qs
}

// locate runs the queries (batched), page by page where the protocol has
// Offset Items (1.3+); a query with no name lists every symmetric key.
// A page is asked for after a full one, or after a short one when the KMS
// said (Located Items) that more match than it returned: a server with a
// lower limit of its own is read to the end.
func (s *Source) locate(ctx context.Context, c *kmipclient.Client, names []query, st *PollStats) ([][]string, error) {
	v := c.Version()
	paged := v.ProtocolVersionMajor > 1 || v.ProtocolVersionMinor >= 3
	pageSize := int32(s.cfg.LocatePageSize)
	build := func(q query, offset int32) kmip.OperationPayload {
		pl := &payloads.LocateRequestPayload{Attribute: []kmip.Attribute{
			{AttributeName: kmip.AttributeNameObjectType, AttributeValue: kmip.ObjectTypeSymmetricKey}}}
		// The most selective filter first: a server that checks them in
		// order (PyKMIP) then reads no object's names but the one's.
		if q.uid != "" {
			pl.Attribute = append(pl.Attribute, kmip.Attribute{AttributeName: kmip.AttributeNameUniqueIdentifier, AttributeValue: q.uid})
		}
		if q.name != "" {
			pl.Attribute = append(pl.Attribute, kmip.Attribute{AttributeName: kmip.AttributeNameName,
				AttributeValue: kmip.Name{NameValue: q.name, NameType: kmip.NameTypeUninterpretedTextString}})
		}
		if paged {
			pl.MaximumItems, pl.OffsetItems = pageSize, offset
		}
		return pl
	}
	out := make([][]string, len(names))
	pending := make([]int, len(names))
	for i := range names {
		pending[i] = i
	}
	offsets := make([]int32, len(names))
	seen := make([]map[string]bool, len(names)) // per name: what its pages returned
	for len(pending) > 0 {
		pls := make([]kmip.OperationPayload, len(pending))
		for j, i := range pending {
			pls[j] = build(names[i], offsets[i])
		}
		res, err := s.batch(ctx, c, pls, st)
		if err != nil {
			return nil, err
		}
		st.Locates += len(pls)
		var next []int
		for j, i := range pending {
			if err := itemErr(res[j]); err != nil {
				return nil, fmt.Errorf("locate %s: %w", names[i], err)
			}
			lr, ok := res[j].ResponsePayload.(*payloads.LocateResponsePayload)
			if !ok {
				return nil, fmt.Errorf("locate %s: unexpected response %T", names[i], res[j].ResponsePayload)
			}
			page := lr.UniqueIdentifier
			// A page that brings nothing new ends the listing, whatever the
			// KMS claims: one that ignores Offset (and answers the first page
			// again), reorders, or inflates Located Items would otherwise be
			// paged for ever. An identifier answered twice (in one page too,
			// and in KMIP 1.2, which has no pages) counts once.
			if seen[i] == nil {
				seen[i] = make(map[string]bool, len(page))
			}
			fresh := 0
			for _, uid := range page {
				if !seen[i][uid] {
					seen[i][uid] = true
					out[i] = append(out[i], uid)
					fresh++
				}
			}
			more := len(page) == int(pageSize) || lr.LocatedItems != nil && int(*lr.LocatedItems) > len(out[i])
			if paged && fresh > 0 && more {
				offsets[i] += int32(len(page))
				next = append(next, i)
			}
		}
		pending = next
	}
	return out, nil
}

// String says what the query asks, for errors.
func (q query) String() string {
	var parts []string
	if q.name != "" {
		parts = append(parts, fmt.Sprintf("%q", q.name))
	}
	if q.uid != "" {
		parts = append(parts, "identifier "+q.uid)
	}
	if len(parts) == 0 {
		return "every symmetric key"
	}
	return strings.Join(parts, ", ")
}

// stateAttr is read, between full refreshes, for the known keys whose
// state can change what a ring holds.
var stateAttr = []kmip.AttributeName{kmip.AttributeNameState}

// lightAttrs are re-read for objects already in the inventory: when neither
// changed, the rest of what is known stands.
var lightAttrs = []kmip.AttributeName{kmip.AttributeNameName, kmip.AttributeNameState}

// attrNames are read for new objects and for those whose state moved.
var attrNames = []kmip.AttributeName{
	kmip.AttributeNameName, kmip.AttributeNameState, kmip.AttributeNameObjectType,
	kmip.AttributeNameInitialDate, kmip.AttributeNameActivationDate, kmip.AttributeNameDeactivationDate,
	kmip.AttributeNameCompromiseDate, kmip.AttributeNameDestroyDate,
	kmip.AttributeNameCryptographicAlgorithm, kmip.AttributeNameCryptographicLength,
}

// objectMeta is what Get Attributes told about one object.
type objectMeta struct {
	uid        string
	names      []string
	state      kmip.State
	objType    kmip.ObjectType
	alg        kmip.CryptographicAlgorithm
	algText    string // from the inventory, when the attribute was not re-read
	length     int32
	initial    *time.Time
	activation *time.Time
	deactivate *time.Time
	compromise *time.Time
	destroy    *time.Time
}

// attributes reads the attributes of uids in batches. Objects whose item
// failed are returned in failed with the reason.
func (s *Source) attributes(ctx context.Context, c *kmipclient.Client, uids []string, names []kmip.AttributeName, st *PollStats) (map[string]*objectMeta, map[string]error, error) {
	metas := make(map[string]*objectMeta, len(uids))
	failed, err := perObject(ctx, s, c, uids, st, &st.AttrReads, func(uid string) kmip.OperationPayload {
		return &payloads.GetAttributesRequestPayload{UniqueIdentifier: uid, AttributeName: names}
	}, func(uid string, ga *payloads.GetAttributesResponsePayload) error {
		m := &objectMeta{uid: uid}
		hasState := false
		for _, a := range ga.Attribute {
			switch v := a.AttributeValue.(type) {
			case kmip.Name:
				m.names = append(m.names, v.NameValue)
			case kmip.State:
				m.state, hasState = v, true
			case kmip.ObjectType:
				m.objType = v
			case kmip.CryptographicAlgorithm:
				m.alg = v
			case int32:
				if a.AttributeName == kmip.AttributeNameCryptographicLength {
					m.length = v
				}
			case time.Time:
				t := v.UTC()
				switch a.AttributeName {
				case kmip.AttributeNameInitialDate:
					m.initial = &t
				case kmip.AttributeNameActivationDate:
					m.activation = &t
				case kmip.AttributeNameDeactivationDate:
					m.deactivate = &t
				case kmip.AttributeNameCompromiseDate:
					m.compromise = &t
				case kmip.AttributeNameDestroyDate:
					m.destroy = &t
				}
			}
		}
		// Every read asks for the State, which every managed object has
		// (KMIP 1.x: always present): an answer without it would be read
		// as a state of zero, and a ring emptied on the KMS's word.
		if slices.Contains(names, kmip.AttributeNameState) && !hasState {
			return &answerError{kms: s.answerer(), what: fmt.Sprintf("answered the Get Attributes of %s without its State (asked for %s)", uid, attrList(names))}
		}
		metas[uid] = m
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return metas, failed, nil
}

func attrList(names []kmip.AttributeName) string {
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = string(n)
	}
	return strings.Join(parts, ", ")
}

// getMaterial fetches the key material of uids in batches. Items the KMS
// refuses are reported in failed; the caller owns (and must zero) the
// returned material.
func (s *Source) getMaterial(ctx context.Context, c *kmipclient.Client, uids []string, st *PollStats) (map[string][]byte, map[string]error, error) {
	out := make(map[string][]byte, len(uids))
	failed, err := perObject(ctx, s, c, uids, st, &st.Gets, func(uid string) kmip.OperationPayload {
		return &payloads.GetRequestPayload{UniqueIdentifier: uid}
	}, func(uid string, g *payloads.GetResponsePayload) error {
		m, err := g.SymmetricKey()
		if err != nil {
			return errors.New("not a symmetric key with raw or transparent material")
		}
		// The key block says what the key is: its attributes were read
		// by another request (and may be of another object by now).
		if sk, ok := g.Object.(*kmip.SymmetricKey); ok && sk != nil {
			kb := sk.KeyBlock
			if kb.CryptographicAlgorithm != 0 && kb.CryptographicAlgorithm != kmip.CryptographicAlgorithmAES {
				clear(m)
				return &answerError{kms: s.answerer(), what: fmt.Sprintf("answered the Get of %s with a %s key, not AES", uid, ttlv.EnumStr(kb.CryptographicAlgorithm))}
			}
			if kb.CryptographicLength != 0 && int(kb.CryptographicLength) != 8*len(m) {
				n := len(m)
				clear(m)
				return &answerError{kms: s.answerer(), what: fmt.Sprintf("answered the Get of %s with a key block of %d bits holding %d", uid, kb.CryptographicLength, 8*n)}
			}
		}
		out[uid] = m
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return out, failed, nil
}

// perObject sends one request per object (req makes it) in batches, adds
// the number of requests to count once they are answered, and hands each
// answer, of type R, to each. An item the KMS refuses, answers with another
// type, or each refuses is in failed with the reason.
func perObject[R kmip.OperationPayload](ctx context.Context, s *Source, c *kmipclient.Client, uids []string, st *PollStats, count *int,
	req func(uid string) kmip.OperationPayload, each func(uid string, r R) error) (map[string]error, error) {
	pls := make([]kmip.OperationPayload, len(uids))
	for i, u := range uids {
		pls[i] = req(u)
	}
	res, err := s.batch(ctx, c, pls, st)
	if err != nil {
		return nil, err
	}
	*count += len(pls)
	failed := map[string]error{}
	for i, bi := range res {
		if err := itemErr(bi); err != nil {
			failed[uids[i]] = err
			continue
		}
		r, ok := bi.ResponsePayload.(R)
		if !ok {
			failed[uids[i]] = fmt.Errorf("unexpected response %T", bi.ResponsePayload)
			continue
		}
		if err := each(uids[i], r); err != nil {
			failed[uids[i]] = err
		}
	}
	return failed, nil
}
