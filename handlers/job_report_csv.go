package handlers

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
)

// reportCSVHeader is the one header of the CSV report. Every row says in
// "record" what it is (mailbox, skipped, folder-renamed, client-settings),
// so one sheet holds them all and a spreadsheet's filter separates them.
var reportCSVHeader = []string{"record", "uid", "outcome", "source", "target",
	"messages_copied", "messages_total", "bytes_copied", "bytes_total", "skipped",
	"started_at", "finished_at", "duration_seconds", "error",
	"folder", "message_uid", "message_id", "subject", "date", "size",
	"old_server", "old_address", "new_server", "new_address",
	"target_folder", "reason",
	"last_sync_at", "syncs", "cutover_window_ms"}

// utf8BOM makes Excel read the file as UTF-8 (folder names and subjects
// are often not ASCII); other spreadsheets ignore it.
const utf8BOM = "\ufeff"

// jobReportCSV serves the report as one CSV file.
func (s *Server) jobReportCSV(w http.ResponseWriter, r *http.Request) {
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
	// Built in memory first, so that a failure is still an error page and
	// not half a file.
	var buf bytes.Buffer
	buf.WriteString(utf8BOM)
	if err := writeReportCSV(&buf, rep); err != nil {
		s.renderError(w, r, fmt.Errorf("encode report of job %d: %w", id, err))
		return
	}
	reportDownload(w, id, "csv", "text/csv; charset=utf-8")
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.logger().Warn("write report", "job", id, "err", err)
	}
}

func writeReportCSV(buf *bytes.Buffer, rep jobReport) error {
	rows := [][]string{reportCSVHeader}
	write := func(cells map[string]string) {
		row := make([]string, len(reportCSVHeader))
		for i, col := range reportCSVHeader {
			row[i] = csvSafe(cells[col])
		}
		rows = append(rows, row)
	}
	for _, m := range rep.Mailboxes {
		write(map[string]string{"record": "mailbox", "uid": m.UID, "outcome": m.Outcome,
			"source": m.Source, "target": m.Target,
			"messages_copied": strconv.FormatInt(m.MsgsCopied, 10), "messages_total": strconv.FormatInt(m.MsgsTotal, 10),
			"bytes_copied": strconv.FormatInt(m.BytesCopied, 10), "bytes_total": strconv.FormatInt(m.BytesTotal, 10),
			"skipped": strconv.Itoa(m.Skipped), "started_at": m.StartedAt, "finished_at": m.FinishedAt,
			"duration_seconds": strconv.FormatFloat(m.DurationSeconds, 'f', -1, 64), "error": m.Error,
			"last_sync_at": m.LastSyncAt, "syncs": strconv.Itoa(m.Syncs), "cutover_window_ms": reportMS(m.CutoverWindowMS)})
	}
	for _, m := range rep.Mailboxes {
		for _, it := range m.SkippedItems {
			write(map[string]string{"record": "skipped", "uid": m.UID, "source": m.Source, "target": m.Target,
				"error": it.Error, "folder": it.Folder, "message_uid": strconv.FormatUint(uint64(it.UID), 10),
				"message_id": it.MessageID, "subject": it.Subject, "date": it.Date, "size": strconv.FormatInt(it.Size, 10)})
		}
	}
	for _, m := range rep.Mailboxes {
		for _, r := range m.RenamedFolders {
			write(map[string]string{"record": "folder-renamed", "uid": m.UID, "source": m.Source, "target": m.Target,
				"folder": r.Source, "target_folder": r.Target, "reason": r.Reason})
		}
	}
	for _, c := range rep.ClientSettings {
		write(map[string]string{"record": "client-settings", "uid": c.UID, "outcome": "done",
			"source": c.OldServer, "target": c.NewServer,
			"old_server": c.OldServer, "old_address": c.OldAddress, "new_server": c.NewServer, "new_address": c.NewAddress})
	}
	return csv.NewWriter(buf).WriteAll(rows)
}

// reportMS is a measured duration in milliseconds, "" when not measured.
func reportMS(ms *int64) string {
	if ms == nil {
		return ""
	}
	return strconv.FormatInt(*ms, 10)
}

// csvSafe defuses spreadsheet formulas: a cell starting with = + - @ (or a
// tab or carriage return, which some spreadsheets skip before them) is
// shown as text by a leading quote. Subjects and folder names come from
// strangers' mail.
func csvSafe(cell string) string {
	if cell == "" {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}
