package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
)

// MaxRequestBody bounds every JSON request body the daemon reads.
const MaxRequestBody = 1 << 20

// WriteJSON writes v as a JSON answer with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// WriteError writes an Error body.
func WriteError(w http.ResponseWriter, status int, code, format string, a ...any) {
	WriteJSON(w, status, &Error{Code: code, Message: fmt.Sprintf(format, a...)})
}

// ReadJSON reads a request body into v: at most MaxRequestBody bytes of
// one JSON object, with no field v does not have and nothing after it. An
// empty body, null, or anything but an object is refused, so a missing
// body can never be read as a request to clear everything. The error is
// an *Error with its status (400, 408 or 413).
func ReadJSON(w http.ResponseWriter, r *http.Request, v any) *Error {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeBadRequest,
				Message: fmt.Sprintf("request body is larger than %d bytes", MaxRequestBody)}
		case errors.Is(err, os.ErrDeadlineExceeded):
			return &Error{Status: http.StatusRequestTimeout, Code: CodeBadRequest,
				Message: "request body was not received in time; send it all at once"}
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: "reading the request body: " + err.Error()}
	}
	return ParseJSONObject(b, v)
}

// ParseJSONObject is ReadJSON's check of a body already read.
func ParseJSONObject(b []byte, v any) *Error {
	bad := func(format string, a ...any) *Error {
		return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, a...)}
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	switch {
	case len(trimmed) == 0:
		return bad("request body is empty; this endpoint needs a JSON object")
	case trimmed[0] != '{':
		return bad("request body must be a JSON object (null, arrays and other values are refused)")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return bad("request body is not valid JSON for this endpoint: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("request body has data after the JSON object")
	}
	return nil
}
