package gcp

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keyward/keyward/daemon/cloud"
)

var permRE = regexp.MustCompile(`Permission '([a-zA-Z.]+)' denied`)

// classify turns a client error into a cloud.Error a key administrator
// can act on. op says what keyward was doing ("rotate europe-west1/…").
func classify(op string, err error) error { return cloud.Classify(op, err, describeErr) }

// describeErr says what a client error (e.Err) means: e's Kind and Reason.
func describeErr(e *cloud.Error) {
	err := e.Err
	st, ok := status.FromError(err)
	if !ok {
		var se interface{ GRPCStatus() *status.Status }
		if errors.As(err, &se) {
			st, ok = se.GRPCStatus(), true
		}
	}
	if !ok {
		switch {
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			e.Kind, e.Reason = cloud.ErrUnreachable, "the request did not complete in time"
		case strings.Contains(err.Error(), "credentials"), strings.Contains(err.Error(), "oauth2"):
			e.Kind, e.Reason = cloud.ErrCredential, "no usable Google credentials (check credential and credentials_file, or the application default credentials)"
		default:
			e.Kind, e.Reason = cloud.ErrUnreachable, "cannot reach Cloud KMS (network, endpoint or https_proxy)"
		}
		return
	}
	msg := st.Message()
	says := func(s string) string { return cloud.Says(s, "Google", msg) }
	switch st.Code() {
	case codes.PermissionDenied:
		e.Kind = cloud.ErrAccess
		if m := permRE.FindStringSubmatch(msg); m != nil {
			e.Reason = "the identity lacks IAM permission " + m[1] + " (grant a Cloud KMS role that has it on the project, key ring or key; a project that does not exist answers the same)"
		} else {
			e.Reason = says("IAM denies the call (or the project does not exist)")
		}
	case codes.Unauthenticated:
		e.Kind, e.Reason = cloud.ErrCredential, says("Google does not accept the credential (expired or deleted service-account key, wrong workload identity configuration)")
	case codes.NotFound:
		e.Kind, e.Reason = cloud.ErrNotFound, says("no such key ring, key or version in this project")
	case codes.FailedPrecondition:
		e.Kind, e.Reason = cloud.ErrConflict, says("the version's or key's state does not allow this (a version scheduled for destruction must be restored first, a disabled one enabled)")
	case codes.AlreadyExists:
		e.Kind, e.Reason = cloud.ErrConflict, says("it already exists")
	case codes.InvalidArgument, codes.OutOfRange:
		e.Kind, e.Reason = cloud.ErrInvalid, "Cloud KMS refused the request: "+msg
	case codes.ResourceExhausted:
		// Google's client does not retry it; Google may say when to
		// come back (RetryInfo), which the run loop then waits.
		e.Kind, e.Reason = cloud.ErrThrottled, says("Cloud KMS request quota exceeded; sync less often or raise the project's quota")
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
				e.RetryAfter = max(ri.GetRetryDelay().AsDuration(), 0)
			}
		}
	case codes.Unimplemented:
		e.Kind, e.Reason = cloud.ErrUnsupported, says("this endpoint does not offer the call")
	case codes.Unavailable, codes.DeadlineExceeded, codes.Internal, codes.Canceled, codes.Unknown, codes.Aborted:
		e.Kind, e.Reason = cloud.ErrUnreachable, says("cannot reach Cloud KMS, or it failed (network, endpoint, https_proxy); try again later")
	default:
		e.Kind, e.Reason = cloud.ErrBadAnswer, "Cloud KMS answered "+st.Code().String()+": "+msg
	}
}
