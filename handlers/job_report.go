package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/movewizard/movewizard/migrate"
	"github.com/movewizard/movewizard/migrate/model"
)

// jobReport is what a job did, per mailbox, for the admin's records and
// for the helpdesk's "reconfigure your mail client" follow-up.
type jobReport struct {
	Job            reportJob      `json:"job"`
	Mailboxes      []reportMove   `json:"mailboxes"`
	ClientSettings []reportClient `json:"client_settings"`
}

type reportJob struct {
	ID         int64          `json:"id"`
	CreatedBy  string         `json:"created_by"`
	CreatedAt  string         `json:"created_at"`
	Target     string         `json:"target"`
	Policy     model.Policy   `json:"policy"`
	MaxBad     int            `json:"max_bad,omitempty"`
	Parallel   int            `json:"parallel"`
	KeepSource bool           `json:"keep_source"`
	State      model.JobState `json:"state"`
	StartedAt  string         `json:"started_at,omitempty"`
	FinishedAt string         `json:"finished_at,omitempty"`
	// Stage: the job syncs, then waits to be completed; CompleteAt is its
	// completion time, "" when an admin completes it.
	Stage      bool   `json:"stage"`
	CompleteAt string `json:"complete_at,omitempty"`
}

type reportMove struct {
	MoveID          int64   `json:"move_id"`
	UID             string  `json:"uid"`
	Outcome         string  `json:"outcome"`
	Source          string  `json:"source"`
	Target          string  `json:"target"`
	MsgsCopied      int64   `json:"messages_copied"`
	MsgsTotal       int64   `json:"messages_total"`
	BytesCopied     int64   `json:"bytes_copied"`
	BytesTotal      int64   `json:"bytes_total"`
	Skipped         int     `json:"skipped"`
	StartedAt       string  `json:"started_at,omitempty"`
	FinishedAt      string  `json:"finished_at,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	Error           string  `json:"error,omitempty"`
	// A staged move's syncs, and the cut-over window (directory update to
	// the end of the final delta) in milliseconds: null until measured.
	LastSyncAt      string          `json:"last_sync_at,omitempty"`
	Syncs           int             `json:"syncs"`
	CutoverWindowMS *int64          `json:"cutover_window_ms"`
	SkippedItems    []reportSkipped `json:"skipped_items"`
	RenamedFolders  []reportRename  `json:"renamed_folders"`
}

// reportRename is a folder the target has under another name than the
// source's (it refused the name), so the user knows where to look.
type reportRename struct {
	Source string `json:"source_folder"`
	Target string `json:"target_folder"`
	Reason string `json:"reason"`
}

type reportSkipped struct {
	Folder    string `json:"folder"`
	UID       uint32 `json:"uid"`
	MessageID string `json:"message_id"`
	Subject   string `json:"subject"`
	Date      string `json:"date,omitempty"`
	Size      int64  `json:"size"`
	Error     string `json:"error"`
}

// reportClient is a user whose POP/IMAP clients named the old server and
// must now name the new one.
type reportClient struct {
	UID        string `json:"uid"`
	OldServer  string `json:"old_server"`
	OldAddress string `json:"old_address"`
	NewServer  string `json:"new_server"`
	NewAddress string `json:"new_address"`
}

// buildJobReport gathers a job's report from the store and the config.
func (s *Server) buildJobReport(ctx context.Context, id int64) (jobReport, error) {
	job, err := s.DB.Job(ctx, id)
	if err != nil {
		return jobReport{}, err
	}
	moves, err := s.DB.Moves(ctx, id)
	if err != nil {
		return jobReport{}, fmt.Errorf("moves of job %d: %w", id, err)
	}
	rep := jobReport{
		Job: reportJob{ID: job.ID, CreatedBy: job.CreatedBy, CreatedAt: reportTime(job.CreatedAt),
			Target: job.Target, Policy: job.Policy, MaxBad: job.MaxBad, Parallel: job.Parallel,
			KeepSource: job.KeepSource, State: job.State, StartedAt: reportTime(job.StartedAt),
			FinishedAt: reportTime(job.FinishedAt), Stage: job.Stage, CompleteAt: reportTime(job.CompleteAt)},
		Mailboxes:      []reportMove{},
		ClientSettings: []reportClient{},
	}
	for _, m := range moves {
		items, err := s.DB.Skipped(ctx, m.ID)
		if err != nil {
			return jobReport{}, fmt.Errorf("skipped items of move %d: %w", m.ID, err)
		}
		rm := reportMove{MoveID: m.ID, UID: m.UID, Outcome: string(m.State), Source: m.Source, Target: m.Target,
			MsgsCopied: m.MsgsDone, MsgsTotal: m.MsgsTotal, BytesCopied: m.BytesDone, BytesTotal: m.BytesTotal,
			Skipped: m.Skipped, StartedAt: reportTime(m.StartedAt), FinishedAt: reportTime(m.FinishedAt),
			Error: m.Error, LastSyncAt: reportTime(m.LastSyncAt), Syncs: m.Syncs, SkippedItems: []reportSkipped{}}
		if d := m.CutoverWindow(); d > 0 {
			ms := d.Milliseconds()
			rm.CutoverWindowMS = &ms
		}
		if !m.StartedAt.IsZero() && !m.FinishedAt.IsZero() {
			rm.DurationSeconds = m.FinishedAt.Sub(m.StartedAt).Round(time.Millisecond).Seconds()
		}
		for _, it := range items {
			rm.SkippedItems = append(rm.SkippedItems, reportSkipped{Folder: it.Folder, UID: it.UID,
				MessageID: it.MessageID, Subject: it.Subject, Date: reportTime(it.Date), Size: it.Size, Error: it.Error})
		}
		if rm.RenamedFolders, err = s.reportRenames(ctx, m.ID); err != nil {
			return jobReport{}, err
		}
		rep.Mailboxes = append(rep.Mailboxes, rm)
		if c, ok := s.clientChange(m); ok {
			rep.ClientSettings = append(rep.ClientSettings, c)
		}
	}
	return rep, nil
}

// reportRenames lists the folders a move created on the target under
// another name, from its events.
func (s *Server) reportRenames(ctx context.Context, moveID int64) ([]reportRename, error) {
	events, err := s.DB.Events(ctx, moveID)
	if err != nil {
		return nil, fmt.Errorf("events of move %d: %w", moveID, err)
	}
	out := []reportRename{}
	for _, e := range events {
		if e.Kind != migrate.EventFolderRenamed {
			continue
		}
		if fr, ok := migrate.ParseFolderRename(e.Message); ok {
			out = append(out, reportRename{Source: fr.Source, Target: fr.Target, Reason: fr.Reason})
		}
	}
	return out, nil
}

// clientChange says whether a moved user's mail clients must change
// servers: the move is done and the old server's address is not the new
// one's (two servers behind one proxy name need no change).
func (s *Server) clientChange(m model.Move) (reportClient, bool) {
	if m.State != model.MoveDone {
		return reportClient{}, false
	}
	src, okSrc := s.Config.Server(m.Source)
	dst, okDst := s.Config.Server(m.Target)
	c := reportClient{UID: m.UID, OldServer: m.Source, OldAddress: src.Address, NewServer: m.Target, NewAddress: dst.Address}
	if okSrc && okDst && strings.EqualFold(src.Address, dst.Address) {
		return reportClient{}, false
	}
	// A server no longer in the config: say so rather than stay silent.
	if !okSrc {
		c.OldAddress = "(no longer configured)"
	}
	if !okDst {
		c.NewAddress = "(no longer configured)"
	}
	return c, true
}

// reportTime is RFC 3339 in UTC; the zero time is "".
func reportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// reportDownload sets the headers of a report file.
func reportDownload(w http.ResponseWriter, id int64, ext, contentType string) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="job-%d-report.%s"`, id, ext))
}

// jobReportJSON serves the report as one JSON document.
func (s *Server) jobReportJSON(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "job")
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	rep, err := s.buildJobReport(r.Context(), id)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	body, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		s.renderError(w, r, fmt.Errorf("encode report of job %d: %w", id, err))
		return
	}
	reportDownload(w, id, "json", "application/json")
	if _, err := w.Write(append(body, '\n')); err != nil {
		s.logger().Warn("write report", "job", id, "err", err)
	}
}
