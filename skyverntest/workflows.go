package skyverntest

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// workflowRecord is one workflow (one permanent id) and its versions.
type workflowRecord struct {
	wpid     string
	idemKey  string
	versions []*workflowWire // oldest first; never mutated once stored
}

func (rec *workflowRecord) latest() *workflowWire { return rec.versions[len(rec.versions)-1] }

func (rec *workflowRecord) deleted() bool { return !rec.latest().DeletedAt.IsZero() }

// liveWorkflowLocked returns a version of a workflow that is not deleted
// (the latest when version is 0), or nil.
func (s *Server) liveWorkflowLocked(wpid string, version int) *workflowWire {
	rec := s.workflows[wpid]
	if rec == nil || rec.deleted() {
		return nil
	}
	if version == 0 {
		return rec.latest()
	}
	for _, v := range rec.versions {
		if v.Version == version {
			return v
		}
	}
	return nil
}

func workflowNotFound(wpid string, version int) *httpError {
	detail := "Workflow not found. workflow_permanent_id=" + wpid
	if version != 0 {
		detail += ", version=" + strconv.Itoa(version)
	}
	return &httpError{http.StatusNotFound, detail}
}

// validIdempotencyKey applies Skyvern's rule: 1 to 255 visible ASCII bytes.
func validIdempotencyKey(key string) bool {
	if len(key) < 1 || len(key) > 255 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

func (s *Server) handleCreateWorkflow(w http.ResponseWriter, r *http.Request, c *call) {
	spec, errs, routeErr := parseWorkflowRequest(c.body)
	if len(errs) > 0 {
		writeValidation(w, errs)
		return
	}
	key, hasKey := "", false
	if vals, ok := r.Header[http.CanonicalHeaderKey("Idempotency-Key")]; ok && len(vals) > 0 {
		key, hasKey = vals[0], true
		if !validIdempotencyKey(key) {
			writeDetail(w, http.StatusUnprocessableEntity, "Idempotency-Key must contain 1 to 255 visible ASCII bytes.")
			return
		}
	}
	if routeErr != nil {
		routeErr.write(w)
		return
	}
	if folder := r.URL.Query().Get("folder_id"); folder != "" {
		spec.FolderID = &folder
	}
	if !hasKey {
		s.mu.Lock()
		resp := mustJSONValue(s.addWorkflowLocked(s.ids.next("wpid"), "", spec))
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
		return
	}

	wpid := idempotentWorkflowID(s.orgID, key)
	s.mu.Lock()
	if s.creating[wpid] {
		s.mu.Unlock()
		writeDetail(w, http.StatusConflict, "Workflow creation with this idempotency key is still in progress.")
		return
	}
	if rec := s.workflows[wpid]; rec != nil {
		// Version 1 answers a repeated key, even after a delete or update.
		resp := mustJSONValue(rec.versions[0])
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, resp)
		return
	}
	s.creating[wpid] = true
	s.mu.Unlock()

	ok := s.sleep(r.Context(), s.cfg.createDelay)
	s.mu.Lock()
	delete(s.creating, wpid)
	if !ok {
		s.mu.Unlock()
		return // the client left or the server is closing
	}
	resp := mustJSONValue(s.addWorkflowLocked(wpid, key, spec))
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

// addWorkflowLocked stores version 1 of a new workflow.
func (s *Server) addWorkflowLocked(wpid, key string, spec *workflowWire) *workflowWire {
	v := s.newVersionLocked(wpid, 1, spec)
	rec := &workflowRecord{wpid: wpid, idemKey: key, versions: []*workflowWire{v}}
	s.workflows[wpid] = rec
	s.workflowOrder = append(s.workflowOrder, rec)
	s.notifyLocked()
	return v
}

func (s *Server) newVersionLocked(wpid string, version int, spec *workflowWire) *workflowWire {
	v := *spec
	now := skyvern.NewTime(s.now())
	v.WorkflowID = s.ids.next("w")
	v.OrganizationID = s.orgID
	v.WorkflowPermanentID = wpid
	v.AgentID = wpid
	v.Version = version
	v.CreatedAt, v.ModifiedAt = now, now
	return &v
}

func (s *Server) handleUpdateWorkflow(w http.ResponseWriter, _ *http.Request, c *call) {
	spec, errs, routeErr := parseWorkflowRequest(c.body)
	if len(errs) > 0 {
		writeValidation(w, errs)
		return
	}
	if routeErr != nil {
		routeErr.write(w)
		return
	}
	wpid := c.params[0]
	s.mu.Lock()
	rec := s.workflows[wpid]
	if rec == nil || rec.deleted() {
		s.mu.Unlock()
		workflowNotFound(wpid, 0).write(w)
		return
	}
	v := s.newVersionLocked(wpid, rec.latest().Version+1, spec)
	rec.versions = append(rec.versions, v)
	s.notifyLocked()
	resp := mustJSONValue(v)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) handleDeleteWorkflow(w http.ResponseWriter, _ *http.Request, c *call) {
	wpid := c.params[0]
	s.mu.Lock()
	if rec := s.workflows[wpid]; rec != nil && !rec.deleted() {
		now := skyvern.NewTime(s.now())
		versions := make([]*workflowWire, len(rec.versions))
		for i, v := range rec.versions {
			cp := *v
			cp.DeletedAt = now
			versions[i] = &cp
		}
		rec.versions = versions
		s.notifyLocked()
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, pyjson.Null{})
}

func (s *Server) handleGetWorkflow(w http.ResponseWriter, r *http.Request, c *call) {
	q := newQuery(r)
	version := q.integer("version", 0, 1)
	q.boolean("template", false)
	if len(q.errs) > 0 {
		writeValidation(w, q.errs)
		return
	}
	wpid := c.params[0]
	s.mu.Lock()
	wf := s.liveWorkflowLocked(wpid, version)
	var resp pyjson.Value
	if wf != nil {
		resp = mustJSONValue(wf)
	}
	s.mu.Unlock()
	if wf == nil {
		workflowNotFound(wpid, version).write(w)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func workflowStatuses() []string {
	return []string{"published", "draft", "auto_generated", "importing", "import_failed"}
}

func (s *Server) handleListWorkflows(w http.ResponseWriter, r *http.Request, _ *call) {
	q := newQuery(r)
	page := q.integer("page", 1, 1)
	pageSize := q.integer("page_size", 10, 1)
	onlySaved := q.boolean("only_saved_tasks", false)
	onlyWorkflows := q.boolean("only_workflows", false)
	onlyTemplates := q.boolean("only_templates", false)
	searchKey := strings.ToLower(r.URL.Query().Get("search_key"))
	title := strings.ToLower(r.URL.Query().Get("title"))
	folder, hasFolder := r.URL.Query()["folder_id"]
	statuses := q.enumList("status", workflowStatuses())
	tags := q.list("tags")
	template := q.boolean("template", false)
	if len(q.errs) > 0 {
		writeValidation(w, q.errs)
		return
	}
	switch {
	case onlySaved && onlyWorkflows:
		writeDetail(w, http.StatusBadRequest, "only_saved_tasks and only_workflows cannot be used together")
		return
	case template && len(tags) > 0:
		writeDetail(w, http.StatusBadRequest, "tags filter is not supported with template=true")
		return
	}
	if len(statuses) == 0 {
		statuses = []string{"published", "draft"}
	}

	s.mu.Lock()
	var matched []*workflowWire
	if !template && !onlyTemplates && len(tags) == 0 {
		for i := len(s.workflowOrder) - 1; i >= 0; i-- {
			rec := s.workflowOrder[i]
			wf := rec.latest()
			switch {
			case rec.deleted(),
				!containsString(statuses, wf.Status),
				onlySaved && !wf.IsSavedTask,
				onlyWorkflows && wf.IsSavedTask,
				hasFolder && (wf.FolderID == nil || *wf.FolderID != folder[0]),
				searchKey != "" && !strings.Contains(strings.ToLower(wf.Title), searchKey),
				title != "" && !strings.Contains(strings.ToLower(wf.Title), title):
				continue
			}
			matched = append(matched, wf)
		}
	}
	// Newest first by the latest version's created_at; among equal times
	// (a frozen test clock) the workflow created last comes first.
	sort.SliceStable(matched, func(i, j int) bool {
		return matched[i].CreatedAt.After(matched[j].CreatedAt.Time)
	})
	list := pyjson.Array{}
	if start := (page - 1) * pageSize; start < len(matched) {
		for _, wf := range matched[start:min(start+pageSize, len(matched))] {
			list = append(list, mustJSONValue(wf))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// query validates query parameters like FastAPI does, collecting 422 items.
type query struct {
	vals map[string][]string
	errs []validationError
}

func newQuery(r *http.Request) *query { return &query{vals: r.URL.Query()} }

func (q *query) integer(name string, def, ge int) int {
	vs := q.vals[name]
	if len(vs) == 0 {
		return def
	}
	n, typ, msg := laxInt(pyjson.String(vs[0]))
	if typ != "" {
		q.errs = append(q.errs, validationError{Type: typ, Loc: []any{"query", name}, Msg: msg, Input: pyjson.String(vs[0])})
		return def
	}
	if n < ge {
		q.errs = append(q.errs, boundError([]any{"query", name}, pyjson.String(vs[0]), "greater_than_equal", "greater than or equal to", "ge", ge))
		return def
	}
	return n
}

func (q *query) boolean(name string, def bool) bool {
	vs := q.vals[name]
	if len(vs) == 0 {
		return def
	}
	b, typ, msg := parseBoolString(vs[0])
	if typ != "" {
		q.errs = append(q.errs, validationError{Type: typ, Loc: []any{"query", name}, Msg: msg, Input: pyjson.String(vs[0])})
		return def
	}
	return b
}

// list reads a repeated or comma-separated parameter.
func (q *query) list(name string) []string {
	var out []string
	for _, v := range q.vals[name] {
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func (q *query) enumList(name string, allowed []string) []string {
	var out []string
	for i, v := range q.vals[name] {
		if !containsString(allowed, v) {
			q.errs = append(q.errs, enumError([]any{"query", name, i}, pyjson.String(v), allowed))
			continue
		}
		out = append(out, v)
	}
	return out
}

// Workflows returns snapshots of every workflow's latest version, deleted
// ones included, in creation order.
func (s *Server) Workflows() []WorkflowSnapshot {
	return copyAll(s, &s.workflowOrder, workflowSnapshot)
}

// Workflow returns a snapshot of one workflow's latest version.
func (s *Server) Workflow(workflowPermanentID string) (WorkflowSnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.workflows[workflowPermanentID]
	if rec == nil {
		return WorkflowSnapshot{}, false
	}
	return workflowSnapshot(rec), true
}

// WorkflowCount returns the number of workflows created (deleted ones
// included; versions do not count).
func (s *Server) WorkflowCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.workflowOrder)
}

func workflowSnapshot(rec *workflowRecord) WorkflowSnapshot {
	wf := rec.latest()
	snap := WorkflowSnapshot{
		WorkflowPermanentID: rec.wpid, WorkflowID: wf.WorkflowID, Version: wf.Version, Title: wf.Title,
		Status: wf.Status, IdempotencyKey: rec.idemKey, Deleted: rec.deleted(),
		JSON: pyjson.Encode(mustJSONValue(wf), pyjson.Response),
	}
	if wf.WebhookCallbackURL != nil {
		snap.WebhookCallbackURL = *wf.WebhookCallbackURL
	}
	if wf.FolderID != nil {
		snap.FolderID = *wf.FolderID
	}
	return snap
}
