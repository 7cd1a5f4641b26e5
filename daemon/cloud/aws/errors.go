package aws

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"

	"github.com/keyward/keyward/daemon/cloud"
)

// classify turns an SDK error into a cloud.Error a key administrator can
// act on. op says what keyward was doing ("describe 1234abcd-…").
func classify(op string, err error) error { return cloud.Classify(op, err, describeErr) }

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
		case "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature":
			e.Kind = cloud.ErrCredential
			e.Reason = "AWS does not recognise the access key or its signature (wrong or deleted key, wrong secret, clock skew)"
		case "ExpiredTokenException", "ExpiredToken", "RequestExpired":
			e.Kind = cloud.ErrCredential
			e.Reason = "the session credentials have expired: renew them (profile, SSO login, or the role's session)"
		case "ThrottlingException", "Throttling", "LimitExceededException", "TooManyRequestsException":
			e.Kind = cloud.ErrThrottled
			e.Reason = "AWS KMS request quota exceeded even after the SDK's retries with backoff; sync less often or raise the account's KMS quota"
		case "NotFoundException":
			e.Kind = cloud.ErrNotFound
			e.Reason = "no such key or alias in this account and region"
		case "KMSInvalidStateException":
			e.Kind = cloud.ErrConflict
			e.Reason = cloud.Says("the key's state does not allow this (a key pending deletion must be recovered first; a disabled key enabled first; a key pending import needs its material)", "AWS", msg)
		case "DisabledException":
			e.Kind = cloud.ErrConflict
			e.Reason = "the key is disabled: enable it first"
		case "AlreadyExistsException":
			e.Kind = cloud.ErrConflict
			e.Reason = "the alias is already in use in this account and region"
		case "IncorrectKeyMaterialException":
			e.Kind = cloud.ErrConflict
			e.Reason = "AWS accepts only the key material this key was made with: re-import that material (keyward key restore of the copy kept at upload), or upload the new material as a new key"
		case "InvalidImportTokenException", "ExpiredImportTokenException":
			e.Kind = cloud.ErrConflict
			e.Reason = "the import token was refused or expired (import parameters are valid 24 hours): retry the import"
		case "UnsupportedOperationException":
			e.Kind = cloud.ErrUnsupported
			e.Reason = cloud.Says("AWS does not support this for this key (its spec, origin or key store)", "AWS", msg)
		case "ValidationException", "InvalidArnException", "InvalidAliasNameException", "TagException", "MalformedPolicyDocumentException":
			e.Kind = cloud.ErrInvalid
			e.Reason = "AWS refused the request: " + msg
		case "KMSInternalException", "DependencyTimeoutException", "InternalFailure", "ServiceUnavailable":
			e.Kind = cloud.ErrUnreachable
			e.Reason = "AWS KMS failed internally even after retries; try again later"
		default:
			e.Kind = cloud.ErrBadAnswer
			e.Reason = fmt.Sprintf("AWS answered %s: %s", ae.ErrorCode(), msg)
		}
		return
	}
	var mae *retry.MaxAttemptsError
	var ne net.Error
	var de *net.DNSError
	switch {
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
