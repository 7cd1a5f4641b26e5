// Command bench is the load-test rig of the encryption proxy, one role per
// process so each one's CPU time can be read: an upstream that answers with
// the request body (as a record store returns what it saved; with a
// Content-Length under /cl/, chunked under /chunked/), a plain
// httputil.ReverseProxy with a BufferPool in front of it, and the keyward proxy in front of it
// with a real key ring, all on loopback. loadtest.sh drives both proxies
// with wrk.
package main

import (
	"context"
	"crypto/rand"
	"flag"
	"log"
	"net"
	"net/http"
	_ "net/http/pprof" // profiles of a proxy under load, on -pprof
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/keyward/keyward/daemon/proxy/benchdata"

	"github.com/keyward/keyward/daemon/config"
	"github.com/keyward/keyward/daemon/proxy"
	"github.com/keyward/keyward/engine"
	"github.com/keyward/keyward/engine/keyring"
)

func main() {
	role := flag.String("role", "", "upstream, plain, keyward or payloads")
	upstream := flag.String("upstream", "", "upstream address (plain, keyward)")
	dir := flag.String("dir", ".", "where to write the address file (role.addr) or the payloads")
	pprofAddr := flag.String("pprof", "", "pprof listener (plain, keyward)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var addr string
	switch *role {
	case "payloads":
		small, large := benchdata.Payloads()
		must(os.WriteFile(filepath.Join(*dir, "small.json"), small, 0o644))
		must(os.WriteFile(filepath.Join(*dir, "large.json"), large, 0o644))
		return
	case "upstream":
		ln := listen()
		go http.Serve(ln, benchdata.Upstream())
		addr = ln.Addr().String()
	case "plain":
		upURL, _ := url.Parse("http://" + *upstream)
		ln := listen()
		go http.Serve(ln, benchdata.FullDuplex(benchdata.Plain(upURL)))
		addr = ln.Addr().String()
	case "keyward":
		rings := keyring.NewRings()
		rings.Configure("bench", "bench.key.*", 16)
		k := make([]byte, 32)
		rand.Read(k)
		if _, err := rings.Apply("bench", []keyring.Candidate{{UID: "1", Name: "bench.key.1", State: engine.StateActive, Material: k}}); err != nil {
			log.Fatal(err)
		}
		m, err := proxy.NewManager(config.Proxy{Apps: []config.ProxyApp{{Name: "bench", Listen: "127.0.0.1:0", Upstream: "http://" + *upstream,
			Fields: []string{"ssn", "email", "card.number", "records[*].ssn"}}}}, rings, nil, nil)
		if err != nil {
			log.Fatal(err)
		}
		must(m.Listen())
		go m.Run(ctx)
		addr = m.Addr("bench")
	default:
		log.Fatalf("-role must be upstream, plain, keyward or payloads")
	}
	if *pprofAddr != "" {
		pp, err := net.Listen("tcp", *pprofAddr)
		must(err)
		go http.Serve(pp, nil)
		must(os.WriteFile(filepath.Join(*dir, *role+".pprof.addr"), []byte(pp.Addr().String()), 0o644))
	}
	must(os.WriteFile(filepath.Join(*dir, *role+".addr"), []byte(addr), 0o644))
	<-ctx.Done()
}

func listen() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	return ln
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
