package gcp

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"google.golang.org/grpc/grpclog"
)

// routeGRPCLog makes gRPC's log (process-wide; by default its errors go to
// stderr, where they would draw over the TUI) the daemon's: errors and
// warnings at their level, info dropped (connection chatter). Only the
// first call counts: grpclog.SetLoggerV2 must run before any gRPC call,
// and the first [[gcp]] source is made before any connector starts.
func routeGRPCLog(logger *slog.Logger) {
	grpcLogOnce.Do(func() { grpclog.SetLoggerV2(grpcLogger{logger.With("component", "grpc")}) })
}

var grpcLogOnce sync.Once

// grpcLogger is a grpclog.LoggerV2 writing to a slog.Logger.
type grpcLogger struct{ l *slog.Logger }

var _ grpclog.LoggerV2 = grpcLogger{}

func (g grpcLogger) log(level slog.Level, msg string) {
	g.l.Log(context.Background(), level, "gRPC: "+msg)
}

func (grpcLogger) Info(...any)          {}
func (grpcLogger) Infoln(...any)        {}
func (grpcLogger) Infof(string, ...any) {}
func (grpcLogger) V(int) bool           { return false }
func (g grpcLogger) Warning(a ...any)   { g.log(slog.LevelWarn, fmt.Sprint(a...)) }
func (g grpcLogger) Warningln(a ...any) { g.log(slog.LevelWarn, fmt.Sprint(a...)) }
func (g grpcLogger) Warningf(f string, a ...any) {
	g.log(slog.LevelWarn, fmt.Sprintf(f, a...))
}
func (g grpcLogger) Error(a ...any)   { g.log(slog.LevelError, fmt.Sprint(a...)) }
func (g grpcLogger) Errorln(a ...any) { g.log(slog.LevelError, fmt.Sprint(a...)) }
func (g grpcLogger) Errorf(f string, a ...any) {
	g.log(slog.LevelError, fmt.Sprintf(f, a...))
}

// Fatal logs and exits, as gRPC expects of a LoggerV2.
func (g grpcLogger) Fatal(a ...any) { g.log(slog.LevelError, fmt.Sprint(a...)); os.Exit(1) }
func (g grpcLogger) Fatalln(a ...any) {
	g.log(slog.LevelError, fmt.Sprint(a...))
	os.Exit(1)
}
func (g grpcLogger) Fatalf(f string, a ...any) {
	g.log(slog.LevelError, fmt.Sprintf(f, a...))
	os.Exit(1)
}
