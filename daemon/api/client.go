package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// ErrUnreachable wraps every failure to reach the daemon's socket, so front
// ends can tell "daemon not running" from an error the daemon returned.
var ErrUnreachable = errors.New("keyward daemon not reachable")

// ErrAnswerLost is a request that changes something, sent to the daemon,
// whose connection closed before the answer came (the daemon was killed or
// restarted meanwhile): it may have been carried out. It also matches
// ErrUnreachable (the daemon is gone), but a front end must not offer to
// send it again as if nothing had happened.
var ErrAnswerLost = errors.New("the keyward daemon's connection closed before it answered: the request was sent and may have been carried out")

// Client talks to a keyward daemon over its Unix socket. Its methods
// mirror the socket API's route table (daemon/localapi/routes.go) area by
// area, one file each: status.go (status, sources, sync, events), keys.go,
// reports.go (activity and reports), cloud.go, kmip.go (client
// identities), schedules.go and proxy.go.
type Client struct {
	Socket string
	http   *http.Client
	stream *http.Client
}

// NewClient returns a client for the daemon listening on socket.
func NewClient(socket string) *Client {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	return &Client{
		Socket: socket,
		http:   &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial, MaxIdleConns: 4}},
		stream: &http.Client{Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}},
	}
}

// WithTimeout is a client for the same socket whose requests are bounded
// by d (none when 0) instead of 30 s, and by their context: for callers
// that bound each request themselves, and for requests that wait for a
// source (a sync asks the vault or the KMS before answering).
func (c *Client) WithTimeout(d time.Duration) *Client {
	cp := *c
	h := *c.http
	h.Timeout = d
	cp.http = &h
	return &cp
}

func (c *Client) url(path string, q url.Values) string {
	u := "http://keyward/" + Version + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Do sends one request and decodes a JSON answer into out (when non-nil).
func (c *Client) Do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return c.failed(req, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return decodeError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s answer: %w", method, path, err)
	}
	// Read the answer to its end (the encoder's newline, a chunked body's
	// last chunk): a body closed before its end makes the transport drop
	// the connection and dial another for the next request, and the
	// daemon counts a user's connections (TestClientKeepsOneConnection).
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return nil
}

// call is Do for a request that answers one JSON value: the typed client
// methods are each one call.
func call[T any](ctx context.Context, c *Client, method, path string, q url.Values, in any) (*T, error) {
	var out T
	return &out, c.Do(ctx, method, path, q, in, &out)
}

// DoRaw sends a request with a raw body and returns the raw answer body.
func (c *Client) DoRaw(ctx context.Context, method, path string, q url.Values, contentType string, in io.Reader) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), in)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.failed(req, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return nil, decodeError(resp)
	}
	return io.ReadAll(resp.Body)
}

// failed is the error of a request that got no answer: ErrUnreachable
// when it never reached the daemon (no socket, no one listening: the dial
// failed, so nothing was sent), ErrAnswerLost when a request that changes
// something was sent and the connection closed before the answer.
func (c *Client) failed(req *http.Request, err error) error {
	var op *net.OpError
	sent := !(errors.As(err, &op) && op.Op == "dial")
	if !sent || req.Method == http.MethodGet || req.Method == http.MethodHead {
		return c.unreachable(err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &answerLost{socket: c.Socket, err: err}
}

// answerLost is ErrAnswerLost with the socket and the transport's error;
// it also matches ErrUnreachable.
type answerLost struct {
	socket string
	err    error
}

func (e *answerLost) Error() string {
	return fmt.Sprintf("%v (%s: %v)", ErrAnswerLost, e.socket, e.err)
}

func (e *answerLost) Is(target error) bool {
	return target == ErrAnswerLost || target == ErrUnreachable
}

func (e *answerLost) Unwrap() error { return e.err }

func (c *Client) unreachable(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // the request URL is an implementation detail of the socket
	}
	return fmt.Errorf("%w at %s: %w", ErrUnreachable, c.Socket, err)
}

func decodeError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	e := &Error{Status: resp.StatusCode}
	if json.Unmarshal(b, e) != nil || e.Code == "" {
		e.Code = CodeInternal
		e.Message = fmt.Sprintf("daemon answered %s", resp.Status)
	}
	return e
}

// query builds query parameters from name, value pairs, leaving out empty
// values.
func query(kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

// positive renders n, or "" when it is not above zero.
func positive(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}
