package skyvern

import (
	"context"
	"net/http"
)

// DownloadFilesRequest is the body of RunDownloadFiles (Skyvern's
// DownloadFilesRequest). NavigationGoal is required.
type DownloadFilesRequest struct {
	BlockRunSettings
	// NavigationGoal says how to reach and download the file.
	NavigationGoal string `json:"navigation_goal"`
	// DownloadSuffix is a suffix or complete file name for the download.
	DownloadSuffix string `json:"download_suffix,omitempty"`
	// DownloadTimeout bounds the download, in seconds.
	DownloadTimeout *float64 `json:"download_timeout,omitempty"`
	// MaxStepsPerRun caps the agent's steps.
	MaxStepsPerRun *int `json:"max_steps_per_run,omitempty"`
}

func (r *DownloadFilesRequest) validate() error {
	if r == nil {
		return &InvalidRequestError{Field: "request", Reason: "must not be nil"}
	}
	if isBlank(r.NavigationGoal) {
		return &InvalidRequestError{Field: "navigation_goal", Reason: "is required"}
	}
	if r.DownloadTimeout != nil && *r.DownloadTimeout <= 0 {
		return &InvalidRequestError{Field: "download_timeout", Reason: "must be positive"}
	}
	if r.MaxStepsPerRun != nil && *r.MaxStepsPerRun < 1 {
		return &InvalidRequestError{Field: "max_steps_per_run", Reason: "must be at least 1"}
	}
	return r.BlockRunSettings.validate()
}

// RunDownloadFiles starts a run that navigates a website and downloads files
// (POST /v1/run/tasks/download_files) and returns the created run, a
// workflow run (wr_…) of one download block. The files appear in the
// finished run's DownloadedFiles; fetch them with DownloadRunFile.
//
// Like RunTask, it is never resent after an ambiguous failure: such an error
// matches ErrOutcomeUnknown. [Client.ResolveOutcome] and WithOutcomeResolution
// work on it as on RunLogin's: the run (of a generated workflow titled
// "File Download") echoes the browser and callback settings only, so
// resolution reads the URL, navigation goal and download suffix from the
// generated workflow; look-alikes it cannot tell apart leave the outcome
// unknown instead of a guess.
func (c *Client) RunDownloadFiles(ctx context.Context, req *DownloadFilesRequest, opts ...RequestOption) (*Run, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	return c.startRun(ctx, apiCall{method: http.MethodPost, path: c.endpoint("v1", "run", "tasks", "download_files"), body: req}, opts)
}
