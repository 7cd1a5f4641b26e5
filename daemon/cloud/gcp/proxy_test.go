package gcp

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/daemon/cloud"
	"github.com/keyward/keyward/daemon/testkit"
)

// connectProxy is a real HTTP CONNECT proxy on a loopback port: it
// tunnels to the address asked for, or refuses with status when set.
type connectProxy struct {
	addr    string
	mu      sync.Mutex
	tunnels []string
	refuse  int
}

func startProxy(t *testing.T) *connectProxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{addr: lis.Addr().String()}
	testkit.Accept(t, lis, func(c net.Conn) { go p.serve(c) })
	return p
}

func (p *connectProxy) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil || req.Method != http.MethodConnect {
		return
	}
	p.mu.Lock()
	p.tunnels = append(p.tunnels, req.Host)
	refuse := p.refuse
	p.mu.Unlock()
	if refuse != 0 {
		io.WriteString(c, "HTTP/1.1 "+strconv.Itoa(refuse)+" "+http.StatusText(refuse)+"\r\n\r\n")
		return
	}
	up, err := net.Dial("tcp", req.Host)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	defer up.Close()
	io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n")
	go io.Copy(up, br)
	io.Copy(c, up)
}

// TestHTTPSProxy: with https_proxy every connection of the source goes
// through the proxy (HTTP CONNECT), and a proxy that refuses is named.
func TestHTTPSProxy(t *testing.T) {
	ctx := context.Background()
	_, addr := ServeFake(t)
	px := startProxy(t)
	cfg := Settings{Name: "g", Project: TestProject, Locations: []string{"europe-west1"}, Credential: CredNone, Endpoint: addr, HTTPSProxy: "http://" + px.addr}
	if errs := cfg.Validate("gcp"); len(errs) > 0 {
		t.Fatal(errs)
	}
	p, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.ListKeys(ctx, func([]cloud.KeyVersion) error { return nil }); err != nil {
		t.Fatal(err)
	}
	px.mu.Lock()
	tunnels := strings.Join(px.tunnels, " ")
	px.mu.Unlock()
	if !strings.Contains(tunnels, addr) {
		t.Fatalf("the proxy tunnelled %q, not %s", tunnels, addr)
	}

	px2 := startProxy(t)
	px2.refuse = http.StatusProxyAuthRequired
	cfg.HTTPSProxy = "http://" + px2.addr
	p2, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	// gRPC retries a connection that fails; the sync gives up at its
	// deadline and says what the proxy answered.
	short, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	err = p2.ListKeys(short, func([]cloud.KeyVersion) error { return nil })
	if !errors.Is(err, cloud.ErrUnreachable) || !strings.Contains(err.Error(), "Proxy Authentication Required") {
		t.Errorf("a refusing proxy: %v", err)
	}
}
