package skyverntest

import (
	"fmt"
	"mime"
	"net/http"
	"path"
	"time"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// surfaceState holds what the runs surface beyond create/get/cancel keeps:
// artifacts, uploads, pushed TOTP codes and the ids of timeline entries.
// It is guarded by Server.mu.
type surfaceState struct {
	artifacts   map[string][]*artifactRecord // by run id, oldest first
	uploads     map[string]*uploadRecord     // by file id
	totpCodes   []*totpCodeWire
	timelineIDs map[string]string // "run id/label" -> wrb_ or ot_ id
}

type artifactRecord struct {
	wire     artifactWire
	filename string
	key      string // object key on the storage host
}

// artifactWire is Artifact as get_run_artifacts writes it: orjson of
// model_dump(), in field order, nulls included.
type artifactWire struct {
	CreatedAt          skyvern.Time `json:"created_at"`
	ModifiedAt         skyvern.Time `json:"modified_at"`
	ArtifactID         string       `json:"artifact_id"`
	ArtifactType       string       `json:"artifact_type"`
	URI                string       `json:"uri"`
	BundleKey          *string      `json:"bundle_key"`
	Checksum           *string      `json:"checksum"`
	FileSize           *int         `json:"file_size"`
	TaskID             *string      `json:"task_id"`
	StepID             *string      `json:"step_id"`
	WorkflowRunID      *string      `json:"workflow_run_id"`
	WorkflowRunBlockID *string      `json:"workflow_run_block_id"`
	RunID              *string      `json:"run_id"`
	BrowserSessionID   *string      `json:"browser_session_id"`
	ObserverCruiseID   *string      `json:"observer_cruise_id"`
	ObserverThoughtID  *string      `json:"observer_thought_id"`
	AISuggestionID     *string      `json:"ai_suggestion_id"`
	SignedURL          *string      `json:"signed_url"`
	Archived           bool         `json:"archived"`
	OrganizationID     string       `json:"organization_id"`
}

// fileInfoWire is FileInfo, an entry of downloaded_files.
type fileInfoWire struct {
	URL        string       `json:"url"`
	Checksum   *string      `json:"checksum"`
	Filename   *string      `json:"filename"`
	FileSize   *int         `json:"file_size"`
	ModifiedAt skyvern.Time `json:"modified_at"`
	ArtifactID *string      `json:"artifact_id"`
}

// AddArtifact stores content as an artifact of a run and returns its id
// (a_…). The run's artifact list then includes it with a freshly signed URL
// on the storage host (see StorageURL). A recording becomes the run's
// recording_url when the run has none; a download (skyvern.ArtifactTypeDownload)
// is added to its downloaded_files. It returns ErrRunNotFound for an unknown
// run.
func (s *Server) AddArtifact(runID string, typ skyvern.ArtifactType, filename string, content []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.findRunLocked(runID)
	if r == nil {
		return "", ErrRunNotFound
	}
	now := s.now()
	id := s.ids.next("a")
	if filename == "" {
		filename = string(typ)
	}
	key := fmt.Sprintf("%s/%s/%s/%s", s.orgID, r.id, id, path.Base(filename))
	size := len(content)
	a := &artifactRecord{filename: path.Base(filename), key: key, wire: artifactWire{
		CreatedAt: skyvern.NewTime(now), ModifiedAt: skyvern.NewTime(now),
		ArtifactID: id, ArtifactType: string(typ),
		URI:      "s3://skyvern-artifacts/v1/production/" + key,
		FileSize: &size, RunID: stringPtr(r.id), OrganizationID: s.orgID,
	}}
	if r.runType == skyvern.RunTypeWorkflowRun {
		a.wire.WorkflowRunID = stringPtr(r.id)
	} else {
		a.wire.TaskID = stringPtr(r.id)
	}
	ctype := mime.TypeByExtension(path.Ext(filename))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	s.storage.put(key, append([]byte(nil), content...), ctype)
	if s.surface.artifacts == nil {
		s.surface.artifacts = map[string][]*artifactRecord{}
	}
	s.surface.artifacts[r.id] = append(s.surface.artifacts[r.id], a)
	r.modifiedAt = now
	s.notifyLocked()
	return id, nil
}

func artifactTypes() []string {
	return []string{
		"recording", "audio", "session_replay", "eval_score", "eval_trajectory", "eval_rubrics",
		"browser_console_log", "browser_session_action_log", "skyvern_log", "skyvern_log_raw", "screenshot",
		"screenshot_llm", "screenshot_action", "screenshot_final", "screenshot_proxy", "llm_prompt", "llm_request",
		"llm_response", "llm_response_parsed", "llm_response_rendered", "visible_elements_id_css_map",
		"visible_elements_id_frame_map", "visible_elements_tree", "visible_elements_tree_trimmed",
		"visible_elements_tree_in_prompt", "hashed_href_map", "visible_elements_id_xpath_map", "html", "html_scrape",
		"html_action", "trace", "har", "script_file", "pdf", "step_archive", "task_archive", "download",
	}
}

// handleGetRunArtifacts lists a run's artifacts with freshly signed URLs.
// Like the server, it does not check that the run exists: an unknown id
// lists nothing.
func (s *Server) handleGetRunArtifacts(w http.ResponseWriter, r *http.Request, c *call) {
	q := newQuery(r)
	types := q.enumList("artifact_type", artifactTypes())
	if len(q.errs) > 0 {
		writeValidation(w, q.errs)
		return
	}
	s.mu.Lock()
	list := pyjson.Array{}
	for _, a := range s.surface.artifacts[c.params[0]] {
		if len(types) > 0 && !containsString(types, a.wire.ArtifactType) {
			continue
		}
		wire := a.wire
		wire.SignedURL = stringPtr(s.storage.sign(a.key))
		list = append(list, mustJSONValue(wire))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

// recordingURLLocked is the run's recording_url: the one its Outcome gave,
// else a signed URL of its recording artifact.
func (s *Server) recordingURLLocked(r *run) *string {
	if r.recordingURL != nil {
		return r.recordingURL
	}
	for _, a := range s.surface.artifacts[r.id] {
		if a.wire.ArtifactType == string(skyvern.ArtifactTypeRecording) {
			return stringPtr(s.storage.sign(a.key))
		}
	}
	return nil
}

// downloadedFilesLocked is the run's downloaded_files, with a signed URL
// per download artifact, signed again on every read as the server does.
func (s *Server) downloadedFilesLocked(r *run) pyjson.Value {
	var files pyjson.Array
	for _, a := range s.surface.artifacts[r.id] {
		if a.wire.ArtifactType != string(skyvern.ArtifactTypeDownload) {
			continue
		}
		files = append(files, mustJSONValue(fileInfoWire{
			URL: s.storage.sign(a.key), Filename: stringPtr(a.filename), FileSize: a.wire.FileSize,
			ModifiedAt: a.wire.ModifiedAt, ArtifactID: stringPtr(a.wire.ArtifactID),
		}))
	}
	if files == nil {
		return r.downloadedFiles
	}
	return files
}

// pydanticUTC formats a tz-aware UTC datetime as Pydantic does (with Z).
func pydanticUTC(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}
