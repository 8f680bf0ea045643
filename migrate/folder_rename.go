package migrate

import (
	"strconv"
	"strings"
)

// EventFolderRenamed is the kind of the event a move records when it
// creates a folder on the target under another name than planned: the
// target refused the name (see Hierarchy.mapRefused), or the folder's
// parent was renamed so. The mailbox page shows it; the report lists it
// (ParseFolderRename).
const EventFolderRenamed = "folder-renamed"

// EventFolderNotCreated is the kind of the event a move records when the
// target refused a folder under its planned and its mapped name: its
// messages are bad items for the error policy and stay on the source.
const EventFolderNotCreated = "folder-not-created"

// FolderRename is one folder created under another name than planned.
type FolderRename struct {
	Source string // source full name
	Target string // target full name it has now
	Reason string // why, for the admin
}

// renameArrow separates the quoted names in an EventFolderRenamed message.
const renameArrow = " → "

// key is the start of the event's message, the same for every run of the
// move, so that a resumed move records the rename once.
func (fr FolderRename) key() string {
	return strconv.Quote(fr.Source) + renameArrow + strconv.Quote(fr.Target)
}

// Message is the event's message: `"source" → "target": reason`, the names
// Go-quoted so that any name reads back unambiguously.
func (fr FolderRename) Message() string { return fr.key() + ": " + fr.Reason }

// ParseFolderRename reads the message of an EventFolderRenamed event.
func ParseFolderRename(msg string) (FolderRename, bool) {
	var fr FolderRename
	src, ok := unquotePrefix(msg)
	if !ok {
		return fr, false
	}
	rest, ok := strings.CutPrefix(msg[len(src):], renameArrow)
	if !ok {
		return fr, false
	}
	dst, ok := unquotePrefix(rest)
	if !ok {
		return fr, false
	}
	fr.Source, _ = strconv.Unquote(src)
	fr.Target, _ = strconv.Unquote(dst)
	fr.Reason = strings.TrimPrefix(rest[len(dst):], ": ")
	return fr, true
}

// unquotePrefix returns the Go-quoted string at the start of s.
func unquotePrefix(s string) (string, bool) {
	q, err := strconv.QuotedPrefix(s)
	return q, err == nil && strings.HasPrefix(q, `"`)
}
