package skyverntest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strconv"
	"time"

	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// MaxUploadBytes is the largest file upload_file accepts, Skyvern's
// default MAX_UPLOAD_FILE_SIZE; larger uploads get 413.
const MaxUploadBytes = 10 << 20

const maxRetentionDays = 365

type uploadRecord struct {
	fileID   string
	filename string
	content  []byte
}

// UploadedFile returns the name and content of a file uploaded with
// upload_file, by its id (file_…).
func (s *Server) UploadedFile(fileID string) (name string, content []byte, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.surface.uploads[fileID]
	if u == nil {
		return "", nil, false
	}
	return u.filename, append([]byte(nil), u.content...), true
}

// handleUploadFile answers upload_file: a multipart form with the file in
// "file" and an optional retention_days.
func (s *Server) handleUploadFile(w http.ResponseWriter, r *http.Request, c *call) {
	name, content, retention, errs := parseUpload(r.Header.Get("Content-Type"), c.raw)
	if len(errs) > 0 {
		writeValidation(w, errs)
		return
	}
	if len(content) > MaxUploadBytes {
		writeDetail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("File size exceeds the maximum allowed size (%.1f MB)", float64(MaxUploadBytes)/1024/1024))
		return
	}
	if retention != nil && (*retention < 1 || *retention > maxRetentionDays) {
		writeDetail(w, http.StatusUnprocessableEntity, fmt.Sprintf("retention_days must be between 1 and %d", maxRetentionDays))
		return
	}
	s.mu.Lock()
	now := s.now()
	id := s.ids.next("file")
	stored := id
	if name != "" {
		stored = id + "_" + path.Base(name)
	}
	key := fmt.Sprintf("%s/%s/%s", s.orgID, now.Format("2006-01-02"), stored)
	if s.surface.uploads == nil {
		s.surface.uploads = map[string]*uploadRecord{}
	}
	s.surface.uploads[id] = &uploadRecord{fileID: id, filename: name, content: content}
	s.storage.put(key, content, "application/octet-stream")
	out := pyjson.NewObject()
	out.Set("s3_uri", pyjson.String("s3://skyvern-uploads/"+key))
	out.Set("presigned_url", pyjson.String(s.storage.sign(key)))
	out.Set("file_id", pyjson.String(id))
	if retention != nil {
		out.Set("expires_at", pyjson.String(pydanticUTC(now.Add(time.Duration(*retention)*24*time.Hour))))
	} else {
		out.Set("expires_at", pyjson.Null{})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// parseUpload reads the form as Starlette would, with FastAPI's 422 for a
// missing file or a retention_days that is not an integer.
func parseUpload(contentType string, body []byte) (name string, content []byte, retention *int, errs []validationError) {
	missingFile := validationError{Type: "missing", Loc: []any{"body", "file"}, Msg: "Field required", Input: pyjson.Null{}}
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/form-data" || params["boundary"] == "" {
		return "", nil, nil, []validationError{missingFile}
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	found := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", nil, nil, []validationError{{Type: "value_error", Loc: []any{"body"}, Msg: "There was an error parsing the body", Input: pyjson.Null{}}}
		}
		data, err := io.ReadAll(part)
		if err != nil {
			return "", nil, nil, []validationError{{Type: "value_error", Loc: []any{"body"}, Msg: "There was an error parsing the body", Input: pyjson.Null{}}}
		}
		switch part.FormName() {
		case "file":
			if part.FileName() != "" || !found {
				name, content, found = part.FileName(), data, true
			}
		case "retention_days":
			n, convErr := strconv.Atoi(string(data))
			if convErr != nil {
				errs = append(errs, validationError{Type: "int_parsing", Loc: []any{"body", "retention_days"},
					Msg: "Input should be a valid integer, unable to parse string as an integer", Input: pyjson.String(string(data))})
				continue
			}
			retention = &n
		}
	}
	if !found {
		errs = append([]validationError{missingFile}, errs...)
	}
	return name, content, retention, errs
}
