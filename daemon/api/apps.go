package api

import (
	"context"
	"net/http"
	"net/url"
)

// AppRotation is POST /v1/kmip/{source}/apps/{app}/rotate: the
// application's new generation, created and activated on the KMS after
// Previous (Note says when it was already there and only activated).
type AppRotation struct {
	Source      string `json:"source"`
	Application string `json:"application"`
	Previous    string `json:"previous"`
	Generation  string `json:"generation"`
	UID         string `json:"uid,omitempty"`
	Note        string `json:"note,omitempty"`
}

// RotateApp rotates a KMIP application now (admin).
func (c *Client) RotateApp(ctx context.Context, source, app string) (*AppRotation, error) {
	return call[AppRotation](ctx, c, http.MethodPost, kmipPath(source, "apps/"+url.PathEscape(app)+"/rotate"), nil, nil)
}
