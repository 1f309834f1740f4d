package skyvern

import (
	"context"
	"net/http"
)

// ServerVersion is the answer of GetVersion.
type ServerVersion struct {
	// Version is the server's version: a git SHA for official builds, a
	// release number for others.
	Version string `json:"version"`
}

// GetVersion returns the server's version (GET /v1/version). The route
// needs no authentication, so the API key is not sent: it works as a
// liveness check that cannot leak the key to a misconfigured base URL.
func (c *Client) GetVersion(ctx context.Context, opts ...RequestOption) (*ServerVersion, error) {
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "version"), class: retryRead, noAuth: true}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var v ServerVersion
	if err := decodeJSON(call, resp.body, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
