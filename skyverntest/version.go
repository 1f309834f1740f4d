package skyverntest

import (
	"net/http"

	"github.com/skyvern-go/skyvern/internal/pyjson"
)

// ServerVersion is what the fake's GET /v1/version reports.
const ServerVersion = "skyverntest"

// handleGetVersion answers get_version, which needs no API key.
func (s *Server) handleGetVersion(w http.ResponseWriter, _ *http.Request, _ *call) {
	obj := pyjson.NewObject()
	obj.Set("version", pyjson.String(ServerVersion))
	writeJSON(w, http.StatusOK, obj)
}
