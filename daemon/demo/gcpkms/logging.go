package gcpkms

import (
	"context"
	"fmt"
	"github.com/keyward/keyward/daemon/cloud/gcp/gcpname"
	"net/url"
	"regexp"
	"strings"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	"google.golang.org/genproto/googleapis/cloud/audit"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The fake of Cloud Logging's entry listing (google.logging.v2
// LoggingServiceV2.ListLogEntries) is keyward's own, like the KMS fake:
// it serves the Cloud Audit Logs entries the KMS fake recorded
// (cloudaudit.googleapis.com/activity for changes, .../data_access for
// Encrypt and Decrypt), each an AuditLog proto payload, to the real
// logadmin client. It understands the filter terms keyward sends: logName,
// timestamp comparisons, protoPayload.serviceName and
// protoPayload.methodName, joined by AND.

// AuditEntry is one recorded call.
type AuditEntry struct {
	Time       time.Time
	DataAccess bool
	Method     string // "Encrypt", "CreateCryptoKey", ...
	Resource   string
	Principal  string
}

// Audit logs.
const (
	LogActivity   = "cloudaudit.googleapis.com/activity"
	LogDataAccess = "cloudaudit.googleapis.com/data_access"
	// MethodPrefix is the audit log methodName prefix of Cloud KMS calls.
	MethodPrefix = "google.cloud.kms.v1.KeyManagementService."
)

// log records an audit entry (s.mu held).
func (s *Server) log(dataAccess bool, method, resource string) {
	s.audit = append(s.audit, AuditEntry{Time: s.Now().UTC(), DataAccess: dataAccess, Method: method, Resource: resource, Principal: s.Principal})
	if len(s.audit) > 100000 {
		s.audit = s.audit[len(s.audit)-50000:]
	}
}

// Record adds an audit entry as if principal had made the call (for the
// demo and tests: traffic of other workloads).
func (s *Server) Record(e AuditEntry) {
	s.mu.Lock()
	s.audit = append(s.audit, e)
	s.mu.Unlock()
}

type loggingServer struct {
	loggingpb.UnimplementedLoggingServiceV2Server
	s *Server
}

// RegisterLogging adds the Logging fake, serving s's audit entries, to g.
func RegisterLogging(g *grpc.Server, s *Server) {
	loggingpb.RegisterLoggingServiceV2Server(g, &loggingServer{s: s})
}

type term struct{ field, op, value string }

var termRE = regexp.MustCompile(`^\s*([A-Za-z.]+)\s*(>=|<=|=|>|<)\s*"([^"]*)"\s*$`)

// parseFilter reads the subset of the Logging query language the fake
// serves: comparisons of a field with a quoted value, joined by AND.
func parseFilter(f string) ([]term, error) {
	var out []term
	if strings.TrimSpace(f) == "" {
		return nil, nil
	}
	for _, part := range strings.Split(f, " AND ") {
		m := termRE.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Errorf("unsupported filter term %q (field OP \"value\")", strings.TrimSpace(part))
		}
		switch m[1] {
		case "logName", "timestamp", "protoPayload.serviceName", "protoPayload.methodName", "resource.type":
		default:
			return nil, fmt.Errorf("unsupported filter field %q", m[1])
		}
		if m[1] == "timestamp" {
			if _, err := time.Parse(time.RFC3339Nano, m[3]); err != nil {
				return nil, fmt.Errorf("timestamp %q is not RFC 3339", m[3])
			}
		} else if m[2] != "=" {
			return nil, fmt.Errorf("field %s only compares with =", m[1])
		}
		out = append(out, term{m[1], m[2], m[3]})
	}
	return out, nil
}

func (t term) match(project string, e AuditEntry) bool {
	switch t.field {
	case "logName":
		want := LogActivity
		if e.DataAccess {
			want = LogDataAccess
		}
		v, err := url.PathUnescape(t.value)
		return err == nil && v == "projects/"+project+"/logs/"+want
	case "timestamp":
		ts, _ := time.Parse(time.RFC3339Nano, t.value)
		switch t.op {
		case ">=":
			return !e.Time.Before(ts)
		case ">":
			return e.Time.After(ts)
		case "<=":
			return !e.Time.After(ts)
		case "<":
			return e.Time.Before(ts)
		}
		return e.Time.Equal(ts)
	case "protoPayload.serviceName":
		return t.value == "cloudkms.googleapis.com"
	case "protoPayload.methodName":
		return t.value == MethodPrefix+e.Method
	case "resource.type":
		return t.value == resourceType(e.Resource)
	}
	return false
}

func resourceType(name string) string {
	switch {
	case strings.Contains(name, "/cryptoKeyVersions/"):
		return "cloudkms_cryptokeyversion"
	case strings.Contains(name, "/cryptoKeys/"):
		return "cloudkms_cryptokey"
	case strings.Contains(name, "/importJobs/"):
		return "cloudkms_importjob"
	}
	return "cloudkms_keyring"
}

// ListLogEntries lists the audit entries of one project matching the
// filter, oldest first.
func (l *loggingServer) ListLogEntries(_ context.Context, r *loggingpb.ListLogEntriesRequest) (*loggingpb.ListLogEntriesResponse, error) {
	s := l.s
	if len(r.GetResourceNames()) != 1 {
		return nil, status.Errorf(codes.InvalidArgument, "resource_names must name one project.")
	}
	project, ok := strings.CutPrefix(r.GetResourceNames()[0], "projects/")
	if !ok || !gcpname.ValidProject(project) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource name %q.", r.GetResourceNames()[0])
	}
	terms, err := parseFilter(r.GetFilter())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid filter: %v", err)
	}
	s.mu.Lock()
	s.calls["ListLogEntries"]++
	if !s.projects[project] || s.denied["logging.privateLogEntries.list"] {
		s.mu.Unlock()
		return nil, status.Errorf(codes.PermissionDenied, "Permission 'logging.privateLogEntries.list' denied on resource 'projects/%s' (or it may not exist).", project)
	}
	var all []AuditEntry
	for _, e := range s.audit {
		if !strings.HasPrefix(e.Resource, "projects/"+project+"/") {
			continue
		}
		keep := true
		for _, t := range terms {
			if !t.match(project, e) {
				keep = false
				break
			}
		}
		if keep {
			all = append(all, e)
		}
	}
	s.mu.Unlock()
	got, next, err := page(all, r.GetPageSize(), r.GetPageToken())
	if err != nil {
		return nil, err
	}
	out := &loggingpb.ListLogEntriesResponse{NextPageToken: next}
	for i, e := range got {
		logName := LogActivity
		if e.DataAccess {
			logName = LogDataAccess
		}
		payload, err := anypb.New(&audit.AuditLog{ServiceName: "cloudkms.googleapis.com", MethodName: MethodPrefix + e.Method,
			ResourceName: e.Resource, AuthenticationInfo: &audit.AuthenticationInfo{PrincipalEmail: e.Principal}})
		if err != nil {
			return nil, status.Errorf(codes.Internal, "%v", err)
		}
		out.Entries = append(out.Entries, &loggingpb.LogEntry{
			LogName:   "projects/" + project + "/logs/" + url.PathEscape(logName),
			Resource:  &monitoredres.MonitoredResource{Type: resourceType(e.Resource), Labels: map[string]string{"project_id": project}},
			Timestamp: timestamppb.New(e.Time), InsertId: fmt.Sprintf("%s-%d", r.GetPageToken(), i),
			Payload: &loggingpb.LogEntry_ProtoPayload{ProtoPayload: payload}})
	}
	return out, nil
}
