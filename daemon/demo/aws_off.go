//go:build nodemoaws

package demo

import (
	"context"
	"log/slog"

	"github.com/keyward/keyward/daemon/config"
)

// startAWS, in a binary built with -tags nodemoaws, leaves the demo
// without an AWS account (and the binary without local-kms).
func startAWS(context.Context, string, *slog.Logger, *config.Config, *Stack) (func(), error) {
	return func() {}, nil
}
