package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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

// DecodeJSON reads a bounded JSON request body into v, rejecting unknown
// fields and trailing data, and answers 400 itself when it fails.
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxRequestBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("unexpected data after the JSON object")
	}
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteError(w, http.StatusRequestEntityTooLarge, CodeBadRequest, "request body is larger than %d bytes", MaxRequestBody)
			return false
		}
		WriteError(w, http.StatusBadRequest, CodeBadRequest, "request body is not valid JSON for this endpoint: %v", err)
		return false
	}
	return true
}
