package skyverntest

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/skyvern-go/skyvern"
	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// Bounds of get_runs_v2.
const (
	maxRunsPage          = 100
	maxRunsPageSize      = 100
	maxRunsSearchResults = 1000 // MAX_SEARCH_FETCH_LIMIT
	maxRunsWorkflowIDs   = 50
	maxRunsTagTerms      = 20
	reservedTagPrefix    = "skyvern."
	tagsForbiddenDetail  = "Workflow tagging is not enabled for this organization."
)

// WithTagFilterForbidden makes GET /v1/runs answer a tags filter with 403,
// as Skyvern does for an organization without workflow tagging.
func WithTagFilterForbidden() Option {
	return func(c *config) { c.tagsForbidden = true }
}

// runListItem is TaskRunListItem (searchable_text is excluded from the
// wire).
type runListItem struct {
	TaskRunID           string       `json:"task_run_id"`
	RunID               string       `json:"run_id"`
	TaskRunType         string       `json:"task_run_type"`
	Status              string       `json:"status"`
	Title               *string      `json:"title"`
	StartedAt           skyvern.Time `json:"started_at"`
	FinishedAt          skyvern.Time `json:"finished_at"`
	CreatedAt           skyvern.Time `json:"created_at"`
	WorkflowPermanentID *string      `json:"workflow_permanent_id"`
	WorkflowDeleted     bool         `json:"workflow_deleted"`
	ScriptRun           bool         `json:"script_run"`
	TriggerType         *string      `json:"trigger_type"`
}

// handleListRuns serves GET /v1/runs (get_runs_v2): filters, newest first,
// the server's paging bounds, search, and run_metadata as tags.
func (s *Server) handleListRuns(w http.ResponseWriter, r *http.Request, _ *call) {
	q := newQuery(r)
	page := q.atMost("page", q.integer("page", 1, 1), maxRunsPage)
	pageSize := q.atMost("page_size", q.integer("page_size", 10, 1), maxRunsPageSize)
	vals := r.URL.Query()
	searchKey := vals.Get("search_key")
	if _, ok := vals["search_key"]; ok && len([]rune(searchKey)) < 3 {
		q.errs = append(q.errs, validationError{
			Type: "string_too_short", Loc: []any{"query", "search_key"},
			Msg: "String should have at least 3 characters", Input: pyjson.String(searchKey), Ctx: boundCtx("min_length", 3),
		})
	}
	wpids := vals["workflow_permanent_id"]
	if len(wpids) > maxRunsWorkflowIDs {
		q.errs = append(q.errs, validationError{
			Type: "too_long", Loc: []any{"query", "workflow_permanent_id"},
			Msg: fmt.Sprintf("List should have at most %d items after validation, not %d", maxRunsWorkflowIDs, len(wpids)), Input: stringArray(wpids), Ctx: boundCtx("max_length", maxRunsWorkflowIDs),
		})
	}
	statuses := q.enumList("status", runStatuses())
	runTypes := q.enumList("run_type", runTypes())
	_, hasTags := vals["tags"]
	tags := q.list("tags")
	if len(q.errs) > 0 {
		writeValidation(w, q.errs)
		return
	}
	switch {
	case (searchKey != "" || len(wpids) > 0) && page*pageSize > maxRunsSearchResults:
		writeDetail(w, http.StatusBadRequest, fmt.Sprintf(
			"Paging with search_key or workflow_permanent_id is limited to the first %d matching runs.", maxRunsSearchResults))
		return
	case hasTags && s.cfg.tagsForbidden:
		writeDetail(w, http.StatusForbidden, tagsForbiddenDetail)
		return
	case len(uniqueStrings(tags)) > maxRunsTagTerms:
		writeDetail(w, http.StatusBadRequest, fmt.Sprintf("At most %d distinct tag filters are allowed.", maxRunsTagTerms))
		return
	}

	s.mu.Lock()
	var matched []*run
	for _, rn := range s.runOrder {
		switch {
		case len(statuses) > 0 && !containsString(statuses, string(rn.status)),
			len(runTypes) > 0 && !containsString(runTypes, string(rn.runType)),
			len(wpids) > 0 && !containsString(wpids, rn.workflowPermanentID()),
			searchKey != "" && !rn.matchesSearch(strings.ToLower(searchKey)),
			len(tags) > 0 && !matchTags(rn.tags(), tags):
			continue
		}
		matched = append(matched, rn)
	}
	// Newest first; among equal created_at (a frozen clock) the run
	// created last comes first.
	for i, j := 0, len(matched)-1; i < j; i, j = i+1, j-1 {
		matched[i], matched[j] = matched[j], matched[i]
	}
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].createdAt.After(matched[j].createdAt) })
	list := pyjson.Array{}
	if start := (page - 1) * pageSize; start < len(matched) {
		for _, rn := range matched[start:min(start+pageSize, len(matched))] {
			list = append(list, mustJSONValue(s.listItemLocked(rn)))
		}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) listItemLocked(rn *run) *runListItem {
	it := &runListItem{
		TaskRunID:   "tr_" + rn.id[strings.LastIndexByte(rn.id, '_')+1:],
		RunID:       rn.id,
		TaskRunType: string(rn.runType),
		Status:      string(rn.status),
		StartedAt:   optionalTime(rn.startedAt),
		FinishedAt:  optionalTime(rn.finishedAt),
		CreatedAt:   skyvern.NewTime(rn.createdAt),
		TriggerType: stringPtr("api"),
	}
	if wpid := rn.workflowPermanentID(); wpid != "" {
		it.WorkflowPermanentID = &wpid
		if rec := s.workflows[wpid]; rec != nil {
			it.WorkflowDeleted = rec.deleted()
		}
	}
	switch {
	case rn.workflow != nil:
		it.Title = stringPtr(rn.workflow.Title)
	case rn.task != nil:
		it.Title = rn.task.Title
	}
	return it
}

func (rn *run) workflowPermanentID() string {
	switch {
	case rn.workflow != nil:
		return rn.workflow.WorkflowPermanentID
	case rn.v2 != nil:
		return rn.v2.workflowPermanentID
	}
	return ""
}

// matchesSearch applies search_key: a task's title and url
// (searchable_text), the run id, the workflow permanent id, and a workflow
// run's parameter keys and values and extra HTTP headers. key is lower-case.
func (rn *run) matchesSearch(key string) bool {
	texts := []string{rn.id, rn.workflowPermanentID()}
	if t := rn.task; t != nil {
		for _, p := range []*string{t.Title, t.URL} {
			if p != nil {
				texts = append(texts, *p)
			}
		}
	}
	if f := rn.flow; f != nil {
		texts = append(texts, objectTexts(f.Parameters)...)
		texts = append(texts, objectTexts(f.ExtraHTTPHeaders)...)
	}
	for _, t := range texts {
		if strings.Contains(strings.ToLower(t), key) {
			return true
		}
	}
	return false
}

// objectTexts lists an object's keys and values as text.
func objectTexts(v pyjson.Value) []string {
	obj, ok := v.(*pyjson.Object)
	if !ok {
		return nil
	}
	var out []string
	for _, m := range obj.Members() {
		out = append(out, m.Key)
		if s, ok := m.Value.(pyjson.String); ok {
			out = append(out, string(s))
		} else {
			out = append(out, string(pyjson.Encode(m.Value, pyjson.Response)))
		}
	}
	return out
}

// tags are the run's tags: a workflow run's run_metadata, reserved keys
// left out. Task runs have none.
func (rn *run) tags() map[string]string {
	if rn.flow == nil {
		return nil
	}
	obj, ok := rn.flow.RunMetadata.(*pyjson.Object)
	if !ok {
		return nil
	}
	tags := map[string]string{}
	for _, m := range obj.Members() {
		if s, ok := m.Value.(pyjson.String); ok && !strings.HasPrefix(m.Key, reservedTagPrefix) {
			tags[m.Key] = string(s)
		}
	}
	return tags
}

// matchTags applies the tags filter: "label", "key:*" or "key:value"; AND
// across keys, OR among the terms of one key.
func matchTags(tags map[string]string, terms []string) bool {
	byKey := map[string][]string{}
	for _, term := range terms {
		key, value, _ := strings.Cut(term, ":")
		byKey[key] = append(byKey[key], value)
	}
	for key, values := range byKey {
		got, ok := tags[key]
		if !ok {
			return false
		}
		hit := false
		for _, v := range values {
			if v == "*" || v == got {
				hit = true
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// dropReservedMetadata removes run_metadata keys in the server's reserved
// namespace, as its validator does.
func dropReservedMetadata(v pyjson.Value) pyjson.Value {
	obj, ok := v.(*pyjson.Object)
	if !ok {
		return v
	}
	out := pyjson.NewObject()
	for _, m := range obj.Members() {
		if !strings.HasPrefix(m.Key, reservedTagPrefix) {
			out.Set(m.Key, m.Value)
		}
	}
	return out
}

// atMost adds FastAPI's le error when n exceeds bound.
func (q *query) atMost(name string, n, bound int) int {
	if n > bound {
		q.errs = append(q.errs, boundError([]any{"query", name}, pyjson.String(fmt.Sprint(n)), "less_than_equal", "less than or equal to", "le", bound))
		return bound
	}
	return n
}

func boundCtx(key string, n int) *pyjson.Object {
	ctx := pyjson.NewObject()
	ctx.Set(key, pyjson.Int(fmt.Sprint(n)))
	return ctx
}

func stringArray(vs []string) pyjson.Array {
	out := make(pyjson.Array, len(vs))
	for i, v := range vs {
		out[i] = pyjson.String(v)
	}
	return out
}

func uniqueStrings(vs []string) map[string]bool {
	set := map[string]bool{}
	for _, v := range vs {
		set[v] = true
	}
	return set
}

func runTypes() []string {
	return []string{
		string(skyvern.RunTypeTaskV1), string(skyvern.RunTypeTaskV2), string(skyvern.RunTypeTaskV3),
		string(skyvern.RunTypeWorkflowRun), string(skyvern.RunTypeOpenAICUA), string(skyvern.RunTypeAnthropicCUA),
		string(skyvern.RunTypeUITars), string(skyvern.RunTypeYutoriNavigator),
	}
}
