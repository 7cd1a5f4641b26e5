package aws

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/keyward/keyward/daemon/cloud"
)

// classify turns an SDK error into a cloud.Error a key administrator can
// act on. op says what keyward was doing ("describe 1234abcd-…").
func classify(op string, err error) error { return cloud.Classify(op, err, describeErr) }

// meaning is what an AWS error code says: the kind, and the reason for a
// key administrator (followed by AWS's own message when says).
type meaning struct {
	kind   error
	reason string
	says   bool
}

// codeMeaning maps the AWS error codes whose reason does not depend on
// the call or AWS's message alone.
var codeMeaning = func() map[string]meaning {
	m := map[string]meaning{}
	for _, c := range []struct {
		codes []string
		meaning
	}{
		{[]string{"UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature"},
			meaning{cloud.ErrCredential, "AWS does not recognise the access key or its signature (wrong or deleted key, wrong secret, clock skew)", false}},
		{[]string{"ExpiredTokenException", "ExpiredToken", "RequestExpired"},
			meaning{cloud.ErrCredential, "the session credentials have expired: renew them (profile, SSO login, or the role's session)", false}},
		{[]string{"ThrottlingException", "Throttling", "LimitExceededException", "TooManyRequestsException"},
			meaning{cloud.ErrThrottled, "AWS KMS request quota exceeded even after the SDK's retries with backoff; sync less often or raise the account's KMS quota", false}},
		{[]string{"NotFoundException"},
			meaning{cloud.ErrNotFound, "no such key or alias in this account and region", false}},
		{[]string{"KMSInvalidStateException"},
			meaning{cloud.ErrConflict, "the key's state does not allow this (a key pending deletion must be recovered first; a disabled key enabled first; a key pending import needs its material)", true}},
		{[]string{"ConflictException"},
			meaning{cloud.ErrConflict, "another change of this key is under way (an on-demand rotation runs for a while after it is asked for): try again once it is done", true}},
		{[]string{"DisabledException"},
			meaning{cloud.ErrConflict, "the key is disabled: enable it first", false}},
		{[]string{"AlreadyExistsException"},
			meaning{cloud.ErrConflict, "the alias is already in use in this account and region", false}},
		{[]string{"IncorrectKeyMaterialException"},
			meaning{cloud.ErrConflict, "AWS accepts only the key material this key was made with: re-import that material (keyward key restore of the copy kept at upload), or upload the new material as a new key", false}},
		{[]string{"InvalidImportTokenException", "ExpiredImportTokenException"},
			meaning{cloud.ErrConflict, "the import token was refused or expired (import parameters are valid 24 hours): retry the import", false}},
		{[]string{"UnsupportedOperationException"},
			meaning{cloud.ErrUnsupported, "AWS does not support this for this key (its spec, origin or key store)", true}},
		{[]string{"KMSInternalException", "DependencyTimeoutException", "InternalFailure", "ServiceUnavailable"},
			meaning{cloud.ErrUnreachable, "AWS KMS failed internally even after retries; try again later", false}},
	} {
		for _, code := range c.codes {
			m[code] = c.meaning
		}
	}
	return m
}()

// describeErr says what an SDK error (e.Err) means: e's Kind and Reason.
func describeErr(e *cloud.Error) {
	err := e.Err
	api := ""
	var oe *smithy.OperationError
	if errors.As(err, &oe) {
		api = oe.Operation()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg := ae.ErrorMessage()
		switch ae.ErrorCode() {
		case "AccessDeniedException", "AccessDenied":
			e.Kind = cloud.ErrAccess
			e.Reason = "the identity lacks permission kms:" + api + " on this key (grant it in the key policy or an IAM policy)"
			if api == "" {
				e.Reason = "the key policy or an IAM policy denies the call"
			}
			e.Reason = cloud.Says(e.Reason, "AWS", msg)
		case "ValidationException", "InvalidArnException", "InvalidAliasNameException", "TagException", "MalformedPolicyDocumentException":
			e.Kind = cloud.ErrInvalid
			e.Reason = "AWS refused the request: " + msg
		default:
			m, known := codeMeaning[ae.ErrorCode()]
			switch {
			case !known:
				e.Kind = cloud.ErrBadAnswer
				e.Reason = fmt.Sprintf("AWS answered %s: %s", ae.ErrorCode(), msg)
			case m.says:
				e.Kind, e.Reason = m.kind, cloud.Says(m.reason, "AWS", msg)
			default:
				e.Kind, e.Reason = m.kind, m.reason
			}
		}
		return
	}
	var mae *retry.MaxAttemptsError
	var ne net.Error
	var de *net.DNSError
	var bad *smithy.DeserializationError
	switch {
	case errors.As(err, &bad) && !errors.Is(err, io.ErrUnexpectedEOF):
		e.Kind = cloud.ErrBadAnswer
		e.Reason = "the answer is not AWS KMS's JSON (check endpoint and https_proxy: something else may be answering)"
	case strings.Contains(err.Error(), "failed to retrieve credentials"), strings.Contains(err.Error(), "failed to refresh cached credentials"):
		e.Kind = cloud.ErrCredential
		e.Reason = "no usable AWS credentials (check credential, profile, static_keys_file or role_arn and external_id)"
	case errors.As(err, &de):
		e.Kind = cloud.ErrUnreachable
		e.Reason = "DNS lookup of " + de.Name + " failed (check region, endpoint and https_proxy)"
	case errors.As(err, &ne), errors.As(err, &mae):
		e.Kind = cloud.ErrUnreachable
		e.Reason = "cannot reach AWS KMS (network, endpoint or https_proxy)"
	default:
		e.Kind = cloud.ErrUnreachable
		e.Reason = "the request did not complete"
	}
}
