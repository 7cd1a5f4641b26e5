// Command keyward is a key administrator's tool: a daemon that keeps the key
// inventory, polls a KMS over KMIP, runs cloud key life cycles and an
// encryption proxy, and the TUI and CLI that talk to it over a Unix socket.
// Start with: keyward demo
package main

import (
	"context"
	"os"

	"github.com/keyward/keyward/cli"
)

func main() {
	os.Exit(cli.Execute(context.Background(), os.Args[1:], &cli.App{Out: os.Stdout, Err: os.Stderr, In: os.Stdin}))
}
