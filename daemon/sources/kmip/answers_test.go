package kmip

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/payloads"
	"github.com/ovh/kmip-go/ttlv"

	"github.com/keyward/keyward/daemon/demo/kms"
	"github.com/keyward/keyward/daemon/pki"
	"github.com/keyward/keyward/daemon/testkit"
	"github.com/keyward/keyward/engine"
)

// ringState is what the crm ring holds: its generations' names, states,
// fingerprints, and the one that encrypts.
func ringState(t *testing.T, e *env) string {
	t.Helper()
	var parts []string
	for _, g := range mustRing(t, e, "crm").Gens {
		parts = append(parts, g.Name+"/"+string(g.State)+"/"+g.Fingerprint+"/"+map[bool]string{true: "enc", false: ""}[g.Encrypts])
	}
	return strings.Join(parts, " ")
}

// rewriteItems has the embedded KMS change the answers' items to op.
func rewriteItems(s *kms.Server, op kmip.Operation, f func(bi *kmip.ResponseBatchItem)) {
	s.RewriteAnswers(func(_ *kmip.RequestMessage, resp *kmip.ResponseMessage) {
		for i := range resp.BatchItem {
			if resp.BatchItem[i].Operation == op {
				f(&resp.BatchItem[i])
			}
		}
	})
}

// TestRotateWithAnswersItDoesNotExpect: a KMS whose answer to the
// rotation's Create is another operation's payload, no payload, no
// identifier, or a refusal (Create not supported) fails the rotation with
// an error naming the source, the KMS's address and the key, instead of a
// panic in kmip-go's typed request that stopped the daemon; the ring is
// untouched, and the next rotation on a KMS that answers works.
func TestRotateWithAnswersItDoesNotExpect(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(bi *kmip.ResponseBatchItem)
		want   string
	}{
		{"another operation's answer", func(bi *kmip.ResponseBatchItem) {
			bi.Operation, bi.ResponsePayload = kmip.OperationLocate, &payloads.LocateResponsePayload{UniqueIdentifier: []string{"1"}}
		}, "answered item 1 (\"acme.crm.key.4\") with a Locate"},
		{"another operation's payload", func(bi *kmip.ResponseBatchItem) {
			bi.ResponsePayload = &payloads.LocateResponsePayload{UniqueIdentifier: []string{"1"}}
		}, "answered Create (\"acme.crm.key.4\") with a message keyward cannot read"},
		{"no payload", func(bi *kmip.ResponseBatchItem) { bi.ResponsePayload = nil }, "answered Create (\"acme.crm.key.4\") with <nil>"},
		{"no identifier", func(bi *kmip.ResponseBatchItem) {
			bi.ResponsePayload = &payloads.CreateResponsePayload{ObjectType: kmip.ObjectTypeSymmetricKey}
		}, "answered the Create with no identifier: find the key named acme.crm.key.4"},
		{"Create not supported", func(bi *kmip.ResponseBatchItem) {
			bi.ResultStatus, bi.ResultReason, bi.ResultMessage, bi.ResponsePayload = kmip.ResultStatusOperationFailed, kmip.ResultReasonOperationNotSupported, "no", nil
		}, "the KMS refused Create: OperationNotSupported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			b := startEmbedded(t, kms.Options{Apps: crm3})
			e := polledCRM(t, b)
			before := ringState(t, e)
			rewriteItems(b.embedded, kmip.OperationCreate, tc.answer)
			_, err := e.src.Rotate(ctx, "crm", "acme.crm.key.3")
			if err == nil {
				t.Fatal("the rotation worked with that answer")
			}
			for _, want := range []string{`rotate application "crm" on ` + e.cfg.Name, "acme.crm.key.4", tc.want} {
				if !strings.Contains(err.Error(), want) {
					t.Fatalf("rotation error %q does not say %q", err, want)
				}
			}
			if !strings.Contains(err.Error(), "OperationNotSupported") && !strings.Contains(err.Error(), b.addr) {
				t.Fatalf("rotation error %q does not name the KMS's address %s", err, b.addr)
			}
			e.mustPoll()
			if after := ringState(t, e); after != before {
				t.Fatalf("the ring changed:\n%s\n%s", before, after)
			}
			b.embedded.RewriteAnswers(nil)
			if _, err := e.src.Rotate(ctx, "crm", "acme.crm.key.3"); err != nil {
				t.Fatalf("the next rotation, the KMS answering again: %v", err)
			}
		})
	}
}

// TestPollWithAnswersItDoesNotExpect: a KMS that answers a batch with an
// item too few or too many, or an item of another operation, fails the
// poll saying so, with its address and the keys asked about (kmip-go says
// only "Batch count mismatch"); a Get answering a key of another algorithm
// or another length than its key block says is refused for that key. The
// ring is untouched by any of it.
func TestPollWithAnswersItDoesNotExpect(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite func(req *kmip.RequestMessage, resp *kmip.ResponseMessage)
		want    string // in the poll's error
		refused string // or in the new key's refusal
	}{
		{"an item too few", func(req *kmip.RequestMessage, resp *kmip.ResponseMessage) {
			if resp.BatchItem[0].Operation == kmip.OperationGetAttributes {
				resp.BatchItem, resp.Header.BatchCount = nil, 0
			}
		}, "answered 0 items (its header says 0) to a request of 1 (", ""},
		{"an item too many, the header not saying it", func(req *kmip.RequestMessage, resp *kmip.ResponseMessage) {
			if resp.BatchItem[0].Operation == kmip.OperationGetAttributes {
				resp.BatchItem = append(resp.BatchItem, resp.BatchItem[0])
			}
		}, "answered 2 items (its header says 1) to a request of 1 (", ""},
		{"another operation's item", func(req *kmip.RequestMessage, resp *kmip.ResponseMessage) {
			if resp.BatchItem[0].Operation == kmip.OperationGet {
				resp.BatchItem[0].Operation, resp.BatchItem[0].ResponsePayload = kmip.OperationDestroy, &payloads.DestroyResponsePayload{UniqueIdentifier: "1"}
			}
		}, "with a Destroy", ""},
		{"a Get with another operation's payload", func(req *kmip.RequestMessage, resp *kmip.ResponseMessage) {
			if resp.BatchItem[0].Operation == kmip.OperationGet {
				resp.BatchItem[0].ResponsePayload = &payloads.DestroyResponsePayload{UniqueIdentifier: "1"}
			}
		}, "answered Get (", ""},
		{"a Get of another algorithm", func(req *kmip.RequestMessage, resp *kmip.ResponseMessage) {
			for i := range resp.BatchItem {
				if g, ok := resp.BatchItem[i].ResponsePayload.(*payloads.GetResponsePayload); ok {
					g.Object.(*kmip.SymmetricKey).KeyBlock.CryptographicAlgorithm = kmip.CryptographicAlgorithmBlowfish
				}
			}
		}, "", "with a Blowfish key, not AES"},
		{"a Get whose key block says another length", func(req *kmip.RequestMessage, resp *kmip.ResponseMessage) {
			for i := range resp.BatchItem {
				if g, ok := resp.BatchItem[i].ResponsePayload.(*payloads.GetResponsePayload); ok {
					g.Object.(*kmip.SymmetricKey).KeyBlock.CryptographicLength = 128
				}
			}
		}, "", "with a key block of 128 bits holding 256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startEmbedded(t, kms.Options{Apps: crm3})
			e := polledCRM(t, b)
			before := ringState(t, e)
			b.create(t, "acme.crm.key.4")
			b.embedded.RewriteAnswers(tc.rewrite)
			err := e.poll()
			switch {
			case tc.want != "":
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), b.addr) || !strings.Contains(err.Error(), e.cfg.Name) {
					t.Fatalf("poll: %v; want an error naming the source %s, the KMS %s and saying %q", err, e.cfg.Name, b.addr, tc.want)
				}
			default:
				if err != nil {
					t.Fatalf("poll: %v", err)
				}
				reasons := strings.Join(refusalReasons(e), "\n")
				if !strings.Contains(reasons, tc.refused) || !strings.Contains(reasons, b.addr) {
					t.Fatalf("refusals:\n%s\nwant one saying %q with the KMS's address", reasons, tc.refused)
				}
			}
			if after := ringState(t, e); after != before {
				t.Fatalf("the ring changed:\n%s\n%s", before, after)
			}
			b.embedded.RewriteAnswers(nil)
			e.mustPoll()
			if enc := encrypting(mustRing(t, e, "crm")); enc == nil || enc.Name != "acme.crm.key.4" {
				t.Fatalf("once the KMS answers right, the encrypting generation is %+v, want acme.crm.key.4", enc)
			}
		})
	}
}

// refusalReasons are the reasons the source gives for the keys it refused.
func refusalReasons(e *env) []string {
	var out []string
	for _, ev := range e.events(engine.OpRefused) {
		out = append(out, ev.KeyID+": "+ev.Details)
	}
	return out
}

// TestKMSAnswerThatCrashesKmipGoDecoder: a KMS (a stand-in speaking TLS
// with the embedded KMS's certificates) answers the first request after
// Discover Versions with 16 bytes on which kmip-go v0.8.1's decoder
// panics, in the client's reader goroutine where no recover reaches:
// without kmipframe.Guard the daemon stops there. The poll fails, naming
// the malformed message, and the source polls the real KMS afterwards.
func TestKMSAnswerThatCrashesKmipGoDecoder(t *testing.T) {
	b := startEmbedded(t, kms.Options{Apps: crm3})
	certPEM, keyPEM, err := b.ca.Issue(pki.IssueOptions{CommonName: "localhost", IPs: []net.IP{net.ParseIP("127.0.0.1")}, Server: true})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(b.ca.Cert)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	crasher := []byte("B\x00{\x01\x00\x00\x00\x0200000000") // a Response Message 2 bytes long
	testkit.Accept(t, ln, func(c net.Conn) {
		defer c.Close()
		s := ttlv.NewStream(c, ttlv.DefaultMaxMessageSize)
		for n := 0; ; n++ {
			var req kmip.RequestMessage
			if err := s.Recv(&req); err != nil {
				return
			}
			if req.BatchItem[0].Operation == kmip.OperationDiscoverVersions {
				resp := kmip.ResponseMessage{Header: kmip.ResponseHeader{ProtocolVersion: kmip.V1_4, BatchCount: 1},
					BatchItem: []kmip.ResponseBatchItem{{Operation: kmip.OperationDiscoverVersions, ResultStatus: kmip.ResultStatusSuccess,
						ResponsePayload: &payloads.DiscoverVersionsResponsePayload{ProtocolVersion: []kmip.ProtocolVersion{kmip.V1_4}}}}}
				if err := s.Send(&resp); err != nil {
					return
				}
				continue
			}
			if _, err := c.Write(crasher); err != nil {
				return
			}
		}
	})
	e := newEnv(t, b, "", nil, crmApp)
	e.cfg.Addresses = []string{ln.Addr().String()}
	e.rebuild()
	err = e.poll()
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("poll of a KMS answering a message kmip-go's decoder panics on: %v", err)
	}
	e.cfg.Addresses = []string{b.addr}
	e.rebuild()
	e.mustPoll()
	if enc := encrypting(mustRing(t, e, "crm")); enc == nil || enc.Name != "acme.crm.key.3" {
		t.Fatalf("then from the real KMS, encrypting %+v", enc)
	}
}

// withoutAttr drops name from every Get Attributes answer (all of them
// when name is "").
func withoutAttr(name kmip.AttributeName) func(*kmip.RequestMessage, *kmip.ResponseMessage) {
	return func(_ *kmip.RequestMessage, resp *kmip.ResponseMessage) {
		for i := range resp.BatchItem {
			if g, ok := resp.BatchItem[i].ResponsePayload.(*payloads.GetAttributesResponsePayload); ok {
				var keep []kmip.Attribute
				for _, a := range g.Attribute {
					if name != "" && a.AttributeName != name {
						keep = append(keep, a)
					}
				}
				g.Attribute = keep
			}
		}
	}
}

// TestAttributeAnswersItDoesNotExpect: Get Attributes answers without the
// State asked for (or without any attribute) were read as a state of zero:
// every generation "moved to pre-active" or "no longer found", the ring
// emptied and the proxy refused to encrypt. Now each such object keeps
// what was known (a new one is skipped) and the poll names the KMS and the
// object; a Locate that returns an identifier the KMS then says does not
// exist is named the same way; a Get refused as not found refuses that
// key. The ring is untouched by any of it.
func TestAttributeAnswersItDoesNotExpect(t *testing.T) {
	ghost := func(_ *kmip.RequestMessage, resp *kmip.ResponseMessage) {
		for i := range resp.BatchItem {
			if l, ok := resp.BatchItem[i].ResponsePayload.(*payloads.LocateResponsePayload); ok && len(l.UniqueIdentifier) > 0 {
				l.UniqueIdentifier = append(l.UniqueIdentifier, "ghost-77")
			}
		}
	}
	goneAtGet := func(_ *kmip.RequestMessage, resp *kmip.ResponseMessage) {
		for i := range resp.BatchItem {
			if bi := &resp.BatchItem[i]; bi.Operation == kmip.OperationGet {
				bi.ResultStatus, bi.ResultReason, bi.ResultMessage, bi.ResponsePayload = kmip.ResultStatusOperationFailed, kmip.ResultReasonItemNotFound, "gone", nil
			}
		}
	}
	for _, tc := range []struct {
		name    string
		rewrite func(*kmip.RequestMessage, *kmip.ResponseMessage)
		warning string // in the poll's warnings
		refused string // or in the new key's refusal
	}{
		{"no State", withoutAttr(kmip.AttributeNameState), "answered the Get Attributes of 3 without its State", ""},
		{"no attributes", withoutAttr(""), "answered the Get Attributes of 4 without its State", ""},
		{"a located object that does not exist", ghost, "located ghost-77, then said it does not exist", ""},
		{"a Get of an object gone", goneAtGet, "", "acme.crm.key.4: cannot fetch the key material: the KMS refused Get: ItemNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := startEmbedded(t, kms.Options{Apps: crm3})
			e := polledCRM(t, b)
			before := ringState(t, e)
			b.create(t, "acme.crm.key.4")
			b.embedded.RewriteAnswers(tc.rewrite)
			st := e.mustPoll()
			after := ringState(t, e)
			if strings.Contains(tc.name, "located") {
				// key.4 is real and joins; the identifier that is not never does.
				if strings.Contains(after, "ghost") || !strings.HasPrefix(after, "acme.crm.key.4/") {
					t.Fatalf("the ring:\n%s", after)
				}
			} else if after != before {
				t.Fatalf("the ring changed:\n%s\n%s", before, after)
			}
			if tc.warning != "" {
				w := strings.Join(st.Warnings, "\n")
				if !strings.Contains(w, tc.warning) || !strings.Contains(w, b.addr) {
					t.Fatalf("poll warnings:\n%s\nwant one naming the KMS %s and saying %q", w, b.addr, tc.warning)
				}
			} else if got := strings.Join(st.LeftOut, "\n"); !strings.Contains(got, tc.refused) {
				t.Fatalf("left out:\n%s\nwant %q", got, tc.refused)
			}
			b.embedded.RewriteAnswers(nil)
			e.mustPoll()
			if enc := encrypting(mustRing(t, e, "crm")); enc == nil || enc.Name != "acme.crm.key.4" {
				t.Fatalf("once the KMS answers right, the encrypting generation is %+v, want acme.crm.key.4", enc)
			}
		})
	}
}
