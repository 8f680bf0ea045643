package handlers

import "net/http"

// Placeholders until the pages land; each is replaced by its own file.
func (s *Server) jobsList(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) jobEvents(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) jobReportCSV(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) jobReportJSON(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) movePage(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) jobCancel(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) moveCancel(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
func (s *Server) moveRetry(w http.ResponseWriter, r *http.Request) { http.Error(w, "not yet", http.StatusNotImplemented) }
