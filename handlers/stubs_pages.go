package handlers

import "net/http"

// Placeholders until the pages land; each is replaced by its own file.
func (s *Server) usersPage(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) userPage(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) serversPage(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
