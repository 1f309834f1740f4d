package skyvern

import (
	"context"
	"net/http"
)

// GetWorkflowVersions returns every version of a workflow, newest first
// (GET /v1/workflows/{workflow_permanent_id}/versions). An unknown id gives
// an empty list, not ErrNotFound. For one of Skyvern's templates, pass
// WithQuery("template", "true").
func (c *Client) GetWorkflowVersions(ctx context.Context, workflowPermanentID string, opts ...RequestOption) ([]Workflow, error) {
	if err := requireID("workflow_permanent_id", workflowPermanentID); err != nil {
		return nil, err
	}
	rc := c.newRequestConfig(opts)
	call := apiCall{method: http.MethodGet, path: c.endpoint("v1", "workflows", workflowPermanentID, "versions"), class: retryRead}
	resp, err := c.do(ctx, call, &rc)
	if err != nil {
		return nil, err
	}
	var versions []Workflow
	if err := decodeJSON(call, resp.body, &versions); err != nil {
		return nil, err
	}
	return versions, nil
}
