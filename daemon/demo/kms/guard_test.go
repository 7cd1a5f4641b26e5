package kms

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipclient"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"
)

// crasher is a Request Message whose structure is 2 bytes long: kmip-go
// v0.8.1's decoder indexes past its end (found by FuzzFrameCounter).
var crasher = []byte("B\x00x\x01\x00\x00\x00\x0200000000")

func locateRequest() []byte {
	return ttlv.MarshalTTLV(&kmip.RequestMessage{
		Header: kmip.RequestHeader{ProtocolVersion: kmip.V1_4, BatchCount: 1},
		BatchItem: []kmip.RequestBatchItem{{Operation: kmip.OperationLocate,
			RequestPayload: &payloads.LocateRequestPayload{}}},
	})
}

// TestClientsDroppingMidRequest is kmip-go's race as clients cause it:
// many connections that send a request (or half of one, or two, or a
// message the server refuses, or one its decoder panics on) and go away
// while it is answered. Without guardListener, `go test -race` reports
// kmipserver closing the answer channel while a send on it is under way
// (the send-on-closed-channel panic that kills the process without -race,
// more rarely), and the crasher kills the process at once; with it, the KMS
// serves on.
func TestClientsDroppingMidRequest(t *testing.T) {
	s, _ := start(t, Options{Apps: DemoApps})
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(ca)
	pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: "localhost"}
	req := locateRequest()
	refused := append([]byte{0x42, 0x00, 0x01, 0x01, 0, 0, 0, 8}, make([]byte, 8)...) // a tag no server reads
	sends := [][]byte{req, req, append(append([]byte{}, req...), req...), req[:len(req)/2], refused, crasher}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 80; i++ {
				c, err := tls.Dial("tcp", s.Addr(), cfg)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Write(sends[rand.IntN(len(sends))]); err != nil {
					t.Error(err)
				}
				// Leave somewhere in the answer's making: the race is
				// the end of the stream arriving between the handler's
				// return and the answer's send.
				for end := time.Now().Add(time.Duration(rand.IntN(400)) * time.Microsecond); time.Now().Before(end); {
				}
				c.Close()
			}
		}()
	}
	wg.Wait()
	c, err := kmipclient.Dial(s.Addr(), kmipclient.WithRootCAFile(s.CAFile), kmipclient.WithClientCertFiles(s.CertFile, s.KeyFile))
	if err != nil {
		t.Fatalf("after the clients left: %v", err)
	}
	defer c.Close()
	if got := locate(t, c, "acme.crm.key.*"); len(got) != 5 {
		t.Fatalf("after the clients left, Locate found %d crm keys, want 5", len(got))
	}
}

// TestGuardHoldsTheEndUntilTheAnswer: the end of a client's stream is
// returned to the library only once the answer to its request is being
// written (or the library closes the connection).
func TestGuardHoldsTheEndUntilTheAnswer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		release func(g *guardedConn)
	}{
		{"answer", func(g *guardedConn) { _, _ = g.Write([]byte("answer")) }},
		{"close", func(g *guardedConn) { _ = g.Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			g := newGuardedConn(server, maxMessage)
			req := locateRequest()
			go func() {
				_, _ = client.Write(req)
				_ = client.Close()
			}()
			got, err := io.ReadAll(io.LimitReader(g, int64(len(req))))
			if err != nil || !bytes.Equal(got, req) {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			ended := make(chan error, 1)
			go func() {
				_, err := g.Read(make([]byte, 8))
				ended <- err
			}()
			select {
			case err := <-ended:
				t.Fatalf("the end of the stream (%v) reached the library before the answer", err)
			case <-time.After(50 * time.Millisecond):
			}
			tc.release(g)
			select {
			case err := <-ended:
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrClosedPipe) {
					t.Fatalf("read after the answer: %v, want the end of the stream", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the end of the stream was held after the answer")
			}
		})
	}
}

// TestGuardPassesTheEndWhenNothingIsOwed: a client that leaves mid-message
// or between requests is let go at once.
func TestGuardPassesTheEndWhenNothingIsOwed(t *testing.T) {
	req := locateRequest()
	for name, sent := range map[string][]byte{"nothing": nil, "half a request": req[:len(req)/2]} {
		t.Run(name, func(t *testing.T) {
			client, server := net.Pipe()
			g := newGuardedConn(server, maxMessage)
			go func() {
				_, _ = client.Write(sent)
				_ = client.Close()
			}()
			done := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(g)
				done <- err
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the end of the stream was held with no answer owed")
			}
		})
	}
}
