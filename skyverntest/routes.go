package skyverntest

import (
	"net/http"
	"strings"
)

// Route names one operation of the API, whatever alias or trailing slash a
// request used to reach it. Faults are injected per route.
type Route string

// Routes the server answers. Each answers under both /workflows and /agents
// (and /run/workflows and /run/agents), with or without a trailing slash.
const (
	RouteRunTask        Route = "run_task"        // POST /v1/run/tasks
	RouteRunWorkflow    Route = "run_workflow"    // POST /v1/run/workflows, /v1/run/agents
	RouteGetRun         Route = "get_run"         // GET /v1/runs/{id}
	RouteListRuns       Route = "list_runs"       // GET /v1/runs
	RouteCancelRun      Route = "cancel_run"      // POST /v1/runs/{id}/cancel
	RouteRetryWebhook   Route = "retry_webhook"   // POST /v1/runs/{id}/retry_webhook
	RouteCreateWorkflow Route = "create_workflow" // POST /v1/workflows, /v1/agents
	RouteGetWorkflow    Route = "get_workflow"    // GET /v1/workflows/{id}, /v1/agents/{id}
	RouteListWorkflows  Route = "list_workflows"  // GET /v1/workflows, /v1/agents
	RouteUpdateWorkflow Route = "update_workflow" // POST /v1/workflows/{id}, /v1/agents/{id}
	RouteDeleteWorkflow Route = "delete_workflow" // POST /v1/workflows/{id}/delete, /v1/agents/{id}/delete

	RouteGetRunTimeline      Route = "get_run_timeline"      // GET /v1/runs/{id}/timeline
	RouteGetRunArtifacts     Route = "get_run_artifacts"     // GET /v1/runs/{id}/artifacts
	RouteBulkCancelRuns      Route = "bulk_cancel_runs"      // POST /v1/runs/cancel
	RouteRetryWorkflowRun    Route = "retry_workflow_run"    // POST /v1/workflows/runs/{id}/retry, /v1/agents/runs/{id}/retry
	RouteRunLogin            Route = "login"                 // POST /v1/run/tasks/login
	RouteRunDownloadFiles    Route = "download_files"        // POST /v1/run/tasks/download_files
	RouteGetWorkflowVersions Route = "get_workflow_versions" // GET /v1/workflows/{id}/versions
	RouteGetWorkflowRuns     Route = "get_workflow_runs"     // GET /v1/workflows/{id}/runs
	RouteUploadFile          Route = "upload_file"           // POST /v1/upload_file
	RouteSendTOTPCode        Route = "send_totp_code"        // POST /v1/credentials/totp
	RouteGetVersion          Route = "get_version"           // GET /v1/version, without authentication
)

// routeDef maps a path pattern to a route. In patterns, "*" matches one
// path segment (an id) and "workflows" also matches "agents".
type routeDef struct {
	route   Route
	method  string
	pattern []string
	hasBody bool
	handle  func(s *Server, w http.ResponseWriter, r *http.Request, c *call)
}

// newRouteTable returns the routes in match order.
func newRouteTable() []routeDef {
	return []routeDef{
		{RouteRunTask, http.MethodPost, []string{"v1", "run", "tasks"}, true, (*Server).handleRunTask},
		{RouteRunWorkflow, http.MethodPost, []string{"v1", "run", "workflows"}, true, (*Server).handleRunWorkflow},
		{RouteGetRun, http.MethodGet, []string{"v1", "runs", "*"}, false, (*Server).handleGetRun},
		{RouteListRuns, http.MethodGet, []string{"v1", "runs"}, false, (*Server).handleListRuns},
		{RouteCancelRun, http.MethodPost, []string{"v1", "runs", "*", "cancel"}, false, (*Server).handleCancelRun},
		{RouteRetryWebhook, http.MethodPost, []string{"v1", "runs", "*", "retry_webhook"}, true, (*Server).handleRetryWebhook},
		{RouteCreateWorkflow, http.MethodPost, []string{"v1", "workflows"}, true, (*Server).handleCreateWorkflow},
		{RouteListWorkflows, http.MethodGet, []string{"v1", "workflows"}, false, (*Server).handleListWorkflows},
		{RouteGetWorkflow, http.MethodGet, []string{"v1", "workflows", "*"}, false, (*Server).handleGetWorkflow},
		{RouteUpdateWorkflow, http.MethodPost, []string{"v1", "workflows", "*"}, true, (*Server).handleUpdateWorkflow},
		{RouteDeleteWorkflow, http.MethodPost, []string{"v1", "workflows", "*", "delete"}, false, (*Server).handleDeleteWorkflow},
		{RouteGetRunTimeline, http.MethodGet, []string{"v1", "runs", "*", "timeline"}, false, (*Server).handleGetRunTimeline},
		{RouteGetRunArtifacts, http.MethodGet, []string{"v1", "runs", "*", "artifacts"}, false, (*Server).handleGetRunArtifacts},
		{RouteBulkCancelRuns, http.MethodPost, []string{"v1", "runs", "cancel"}, true, (*Server).handleBulkCancelRuns},
		{RouteRetryWorkflowRun, http.MethodPost, []string{"v1", "workflows", "runs", "*", "retry"}, false, (*Server).handleRetryWorkflowRun},
		{RouteRunLogin, http.MethodPost, []string{"v1", "run", "tasks", "login"}, true, (*Server).handleRunLogin},
		{RouteRunDownloadFiles, http.MethodPost, []string{"v1", "run", "tasks", "download_files"}, true, (*Server).handleRunDownloadFiles},
		{RouteGetWorkflowVersions, http.MethodGet, []string{"v1", "workflows", "*", "versions"}, false, (*Server).handleGetWorkflowVersions},
		{RouteGetWorkflowRuns, http.MethodGet, []string{"v1", "workflows", "*", "runs"}, false, (*Server).handleGetWorkflowRuns},
		{RouteUploadFile, http.MethodPost, []string{"v1", "upload_file"}, false, (*Server).handleUploadFile},
		{RouteSendTOTPCode, http.MethodPost, []string{"v1", "credentials", "totp"}, true, (*Server).handleSendTOTPCode},
		{RouteGetVersion, http.MethodGet, []string{"v1", "version"}, false, (*Server).handleGetVersion},
	}
}

// matchRoute finds the route for a request. It returns the route and the
// path parameters, or nil and whether the path exists under another method
// (for a 405).
func matchRoute(table []routeDef, method, path string) (*routeDef, []string, bool) {
	path = strings.TrimPrefix(path, "/")
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	segs := strings.Split(path, "/")
	pathExists := false
	for i := range table {
		rd := &table[i]
		params, ok := matchPattern(rd.pattern, segs)
		if !ok {
			continue
		}
		if rd.method != method {
			pathExists = true
			continue
		}
		return rd, params, false
	}
	return nil, nil, pathExists
}

func matchPattern(pattern, segs []string) ([]string, bool) {
	if len(pattern) != len(segs) {
		return nil, false
	}
	var params []string
	for i, p := range pattern {
		switch {
		case p == "*":
			if segs[i] == "" {
				return nil, false
			}
			params = append(params, segs[i])
		case p == "workflows":
			if segs[i] != "workflows" && segs[i] != "agents" {
				return nil, false
			}
		case p != segs[i]:
			return nil, false
		}
	}
	return params, true
}
