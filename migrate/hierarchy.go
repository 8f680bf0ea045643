package migrate

// Folder hierarchy translation between two IMAP servers. Pure functions: the
// mover LISTs both servers, calls PlanHierarchy, then CREATEs and SUBSCRIBEs.
//
// Invariants:
//   - One source level is one target level: a level containing the target's
//     delimiter gets a look-alike character instead (see Join).
//   - INBOX is case-insensitive on input and "INBOX" on output (RFC 3501 §5.1).
//   - The personal namespace prefix (RFC 2342) is not a level the user sees.
//   - No two source folders land on one target folder: that is an error, never
//     a silent merge, because verification counts messages per folder.
//   - A name the target refuses to create is created with look-alikes for the
//     characters servers are known to refuse (mapRefused), under its parent,
//     never onto another folder's name (unusedName); children follow their
//     renamed parent (underRenamed).

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
)

var (
	// ErrOutsideNamespace marks a name that is not under the personal
	// namespace prefix (a shared or other-users folder, RFC 2342 §5).
	ErrOutsideNamespace = errors.New("outside the personal namespace")
	// ErrBadFolderName marks a name that cannot be split into levels.
	ErrBadFolderName = errors.New("invalid folder name")
	// ErrFolderCollision marks two source folders mapping to one target name.
	ErrFolderCollision = errors.New("folder name collision")
)

// flatSep joins levels on a flat target when Join is not told the source
// delimiter; U+2215 DIVISION SLASH looks like the usual "/" separator.
const flatSep = "\u2215"

// Hierarchy is one server's view of the personal namespace.
type Hierarchy struct {
	Delim  rune   // 0 = flat (NIL delimiter, RFC 3501 §6.3.8)
	Prefix string // personal namespace prefix from NAMESPACE, e.g. "INBOX." or ""
}

// Levels splits a full mailbox name of h into its hierarchy levels as the user
// sees them, without the personal namespace prefix. "INBOX" in any case is
// ["INBOX"]. On a prefix-less server "INBOX/x" is ["INBOX","x"]: a real child
// of INBOX. Empty levels ("a..b", a trailing delimiter) are an error.
func (h Hierarchy) Levels(name string) ([]string, error) {
	if strings.EqualFold(name, "INBOX") {
		return []string{"INBOX"}, nil
	}
	if !utf8.ValidString(name) {
		return nil, fmt.Errorf("folder %q: not UTF-8: %w", name, ErrBadFolderName)
	}
	rest := name
	if h.Prefix != "" {
		if !hasPrefixInbox(name, h.Prefix) {
			return nil, fmt.Errorf("folder %q (prefix %q): %w", name, h.Prefix, ErrOutsideNamespace)
		}
		rest = name[len(h.Prefix):]
	}
	if rest == "" {
		return nil, fmt.Errorf("folder %q: empty name: %w", name, ErrBadFolderName)
	}
	if h.Delim == 0 {
		return []string{rest}, nil
	}
	levels := strings.Split(rest, string(h.Delim))
	if slices.Contains(levels, "") {
		return nil, fmt.Errorf("folder %q: empty hierarchy level: %w", name, ErrBadFolderName)
	}
	// Only without a prefix is a leading "inbox" the INBOX itself; under
	// "INBOX." the user's "Inbox.x" is an ordinary top-level folder.
	if h.Prefix == "" && strings.EqualFold(levels[0], "INBOX") {
		levels[0] = "INBOX"
	}
	return levels, nil
}

// hasPrefixInbox reports whether name starts with prefix, ignoring case in a
// leading "INBOX" since RFC 3501 §5.1 makes INBOX case-insensitive.
func hasPrefixInbox(name, prefix string) bool {
	if strings.HasPrefix(name, prefix) {
		return true
	}
	return len(prefix) >= 5 && strings.EqualFold(prefix[:5], "INBOX") &&
		len(name) >= len(prefix) && strings.EqualFold(name[:len(prefix)], prefix)
}

// Join builds a full mailbox name of h from levels. A level containing h.Delim
// gets that character replaced by a look-alike (U+2215 for '/', U+2024 for '.',
// '_' otherwise) so that one level stays one level. ["INBOX"] is "INBOX",
// never prefixed; other names get the prefix, so a child of INBOX on an
// "INBOX." server is "INBOX.INBOX.x" (Dovecot 2.3 shows it so). A flat server
// (Delim 0) has no children: levels become one name joined with U+2215.
func (h Hierarchy) Join(levels []string) string {
	return h.join(levels, flatSep)
}

// join is Join with the separator for a flat target chosen by the caller:
// PlanHierarchy uses the look-alike of the source delimiter, so that a user
// who saw "Archive.2023" now sees "Archive․2023".
func (h Hierarchy) join(levels []string, sep string) string {
	// Under a prefix only the exact "INBOX" is the INBOX: Dovecot keeps
	// "INBOX.inbox" as a folder of its own. Without one, any case is (below).
	if len(levels) == 1 && levels[0] == "INBOX" {
		return "INBOX"
	}
	parts := make([]string, len(levels))
	for i, l := range levels {
		if h.Delim != 0 {
			l = strings.ReplaceAll(l, string(h.Delim), lookAlike(h.Delim))
			sep = string(h.Delim)
		}
		if i == 0 && h.Prefix == "" && strings.EqualFold(l, "INBOX") {
			l = "INBOX"
		}
		parts[i] = l
	}
	return h.Prefix + strings.Join(parts, sep)
}

// lookAlike is the character that stands in for delim inside one level.
func lookAlike(delim rune) string {
	switch delim {
	case '/':
		return "\u2215" // DIVISION SLASH
	case '.':
		return "\u2024" // ONE DOT LEADER
	}
	return "_"
}

// SourceFolder is one LISTed source mailbox.
type SourceFolder struct {
	Name       string
	Attrs      []imap.MailboxAttr
	Subscribed bool
}

// TargetFolder is one LISTed target mailbox (existing before the move).
type TargetFolder struct {
	Name  string
	Attrs []imap.MailboxAttr
}

// FolderPlan says what to do for one source folder. Exactly one of Exists and
// Create is true.
type FolderPlan struct {
	Source     string           // source full name
	Target     string           // target full name
	SpecialUse imap.MailboxAttr // RFC 6154 use the target folder has or gets; "" for most folders and for a second source folder of one use
	Exists     bool             // target already has it (INBOX, a mapped special-use folder, or same name): don't CREATE
	Create     bool             // CREATE it on the target (with USE SpecialUse if the target has CREATE-SPECIAL-USE)
	Subscribe  bool             // subscribed on source
	NoSelect   bool             // \Noselect or \NonExistent on the source: hierarchy only, copy no messages
}

// SkippedFolder is a source folder that PlanHierarchy leaves out, and why.
type SkippedFolder struct {
	Name   string
	Reason string
}

// specialUses are the RFC 6154 uses mapped onto the target's own folder.
// \All and \Flagged are not here: they are skipped (see PlanHierarchy).
var specialUses = []imap.MailboxAttr{
	imap.MailboxAttrSent, imap.MailboxAttrDrafts, imap.MailboxAttrTrash,
	imap.MailboxAttrJunk, imap.MailboxAttrArchive,
}

type planEntry struct {
	src    SourceFolder
	levels []string // source levels
	use    imap.MailboxAttr
	chosen bool // the one source folder of its use that keeps it on the target
}

// PlanHierarchy maps every source folder onto the target, parents before
// children (fewer target levels first, then by name), so the CREATE order is
// valid. A source folder with a special use maps onto the first target folder
// (by name) with that use; if several source folders share the use, the one
// whose name already matches that target folder wins, else the first by level
// count and name, and the others become ordinary folders. Children follow a
// mapped folder ("Sent Items/2023" -> "Sent/2023"). On a flat target the levels
// are joined with the look-alike of the source delimiter ("Archive∕2023").
// Parents missing from the LIST get no plan: CREATE makes them (RFC 3501 §6.3.3).
func PlanHierarchy(src []SourceFolder, dst []TargetFolder, srcH, dstH Hierarchy) (plans []FolderPlan, skipped []SkippedFolder, err error) {
	entries, skipped, err := planEntries(src, srcH)
	if err != nil {
		return nil, nil, err
	}
	sep := lookAlike(srcH.Delim)
	existing, dstUse := targetUses(dst, dstH)
	mapped, err := chooseSpecialUses(entries, dstUse, dstH, sep)
	if err != nil {
		return nil, nil, err
	}
	plans, placeSkipped, err := placeFolders(entries, mapped, existing, dstH, sep)
	if err != nil {
		return nil, nil, err
	}
	return plans, append(skipped, placeSkipped...), nil
}

// planEntries splits each source folder into levels and notes its special
// use, leaving out virtual views and folders outside the personal namespace.
// Entries come sorted by level count, levels and name: that order decides
// which of several folders of one use keeps it (chooseSpecialUses).
func planEntries(src []SourceFolder, srcH Hierarchy) ([]planEntry, []SkippedFolder, error) {
	var entries []planEntry
	var skipped []SkippedFolder
	for _, f := range src {
		if hasAttr(f.Attrs, imap.MailboxAttrAll) || hasAttr(f.Attrs, imap.MailboxAttrFlagged) {
			// RFC 6154 §2: these are usually virtual views of messages
			// stored in other folders; copying them would duplicate mail.
			skipped = append(skipped, SkippedFolder{f.Name, "virtual \\All or \\Flagged folder: its messages are copied from their real folders"})
			continue
		}
		levels, err := srcH.Levels(f.Name)
		if errors.Is(err, ErrOutsideNamespace) {
			skipped = append(skipped, SkippedFolder{f.Name, "outside the personal namespace"})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("source: %w", err)
		}
		e := planEntry{src: f, levels: levels}
		for _, u := range specialUses {
			if hasAttr(f.Attrs, u) {
				e.use = u
				break
			}
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b planEntry) int {
		return cmp.Or(cmp.Compare(len(a.levels), len(b.levels)),
			slices.Compare(a.levels, b.levels), cmp.Compare(a.src.Name, b.src.Name))
	})
	return entries, skipped, nil
}

// targetUses reads the target's LIST: existing holds every canonical name
// (and INBOX, which always exists), dstUse the canonical name of the first
// folder by name with each special use. Only the user's own folders can be
// mapped onto, so names outside the personal namespace get no use.
func targetUses(dst []TargetFolder, dstH Hierarchy) (existing map[string]bool, dstUse map[imap.MailboxAttr]string) {
	existing = map[string]bool{"INBOX": true}
	dstUse = map[imap.MailboxAttr]string{}
	for _, t := range slices.SortedFunc(slices.Values(dst), func(a, b TargetFolder) int { return cmp.Compare(a.Name, b.Name) }) {
		existing[canonical(dstH, t.Name)] = true
		if _, err := dstH.Levels(t.Name); err != nil {
			continue // not a folder of the user's own that we could map onto
		}
		for _, u := range specialUses {
			if _, ok := dstUse[u]; !ok && hasAttr(t.Attrs, u) {
				dstUse[u] = canonical(dstH, t.Name)
			}
		}
	}
	return existing, dstUse
}

// chooseSpecialUses picks one source folder per use and marks it chosen:
// the one already named like the target's folder of that use (no rename),
// else the first entry. The result maps the chosen folder's source levels
// (levelKey) to the target levels of the target's folder of that use; a
// use the target has no folder for keeps its source name.
func chooseSpecialUses(entries []planEntry, dstUse map[imap.MailboxAttr]string, dstH Hierarchy, sep string) (map[string][]string, error) {
	mapped := map[string][]string{}
	for _, u := range specialUses {
		name, hasUse := dstUse[u]
		pick := -1
		for i, e := range entries {
			if e.use != u {
				continue
			}
			if pick < 0 {
				pick = i
			}
			if hasUse && dstH.join(e.levels, sep) == name {
				pick = i // already the target's folder of that use: no rename
				break
			}
		}
		if pick < 0 {
			continue
		}
		entries[pick].chosen = true
		if hasUse {
			tl, err := dstH.Levels(name)
			if err != nil {
				return nil, fmt.Errorf("target: %w", err)
			}
			mapped[levelKey(entries[pick].levels)] = tl
		}
	}
	return mapped, nil
}

// placeFolders gives each entry its target name (children follow a mapped
// ancestor) and returns the plans in CREATE order: fewer target levels
// first, then by name. It fails on two source folders landing on one
// target folder, since verification counts messages per folder.
func placeFolders(entries []planEntry, mapped map[string][]string, existing map[string]bool, dstH Hierarchy, sep string) ([]FolderPlan, []SkippedFolder, error) {
	hasChild := targetParents(entries, mapped)
	var plans []FolderPlan
	var skipped []SkippedFolder
	owner := map[string]string{}
	depth := map[string]int{}
	for _, e := range entries {
		tl := targetLevels(e.levels, mapped)
		noSelect := hasAttr(e.src.Attrs, imap.MailboxAttrNoSelect) || hasAttr(e.src.Attrs, imap.MailboxAttrNonExistent)
		if noSelect {
			if reason := noSelectSkip(tl, hasChild, dstH); reason != "" {
				skipped = append(skipped, SkippedFolder{e.src.Name, reason})
				continue
			}
		}
		p := FolderPlan{
			Source:    e.src.Name,
			Target:    dstH.join(tl, sep),
			Subscribe: e.src.Subscribed,
			NoSelect:  noSelect,
		}
		if e.chosen {
			p.SpecialUse = e.use
		}
		// A mapped special-use folder is in existing: dstUse holds canonical names.
		p.Exists = existing[p.Target]
		p.Create = !p.Exists
		if prev, ok := owner[p.Target]; ok {
			return nil, nil, fmt.Errorf("source folders %q and %q both map to target %q: %w", prev, p.Source, p.Target, ErrFolderCollision)
		}
		owner[p.Target] = p.Source
		depth[p.Target] = len(tl)
		plans = append(plans, p)
	}
	slices.SortFunc(plans, func(a, b FolderPlan) int {
		return cmp.Or(cmp.Compare(depth[a.Target], depth[b.Target]), cmp.Compare(a.Target, b.Target))
	})
	return plans, skipped, nil
}

// targetParents says which target levels (levelKey) have a child. Children
// are counted on the target: "[Gmail]" whose only child "[Gmail]/Sent Mail"
// maps onto "Sent" has nothing to hold there.
func targetParents(entries []planEntry, mapped map[string][]string) map[string]bool {
	hasChild := map[string]bool{}
	for _, e := range entries {
		tl := targetLevels(e.levels, mapped)
		for i := 1; i < len(tl); i++ {
			hasChild[levelKey(tl[:i])] = true
		}
	}
	return hasChild
}

// noSelectSkip is why a \Noselect source folder with target levels tl gets
// no plan, or "" when it is planned: it exists only to hold children, so it
// is kept only where the target has children for it to hold.
func noSelectSkip(tl []string, hasChild map[string]bool, dstH Hierarchy) string {
	switch {
	case !hasChild[levelKey(tl)]:
		return "\\Noselect folder without children"
	case len(tl) == 1 && tl[0] == "INBOX":
		// Dovecot lists "INBOX.INBOX" \Noselect above INBOX's children.
		return "\\Noselect placeholder for INBOX"
	case dstH.Delim == 0:
		return "\\Noselect folder: the target is flat and has no hierarchy to hold"
	}
	return ""
}

// targetLevels replaces the longest source ancestor (or the folder itself)
// that maps onto a target special-use folder.
func targetLevels(levels []string, mapped map[string][]string) []string {
	for i := len(levels); i > 0; i-- {
		if tl, ok := mapped[levelKey(levels[:i])]; ok {
			return append(slices.Clone(tl), levels[i:]...)
		}
	}
	return levels
}

// canonical is the name a target server reports for name, with INBOX in
// upper case; names it cannot split are kept as they are.
func canonical(h Hierarchy, name string) string {
	levels, err := h.Levels(name)
	if err != nil {
		return name
	}
	return h.Join(levels)
}

// levelKey joins levels with NUL, which no IMAP mailbox name contains
// (CHAR8 excludes %x00, RFC 3501 §9).
func levelKey(levels []string) string { return strings.Join(levels, "\x00") }

// hasAttr compares case-insensitively: attributes are atoms (RFC 3501 §9).
func hasAttr(attrs []imap.MailboxAttr, want imap.MailboxAttr) bool {
	return slices.ContainsFunc(attrs, func(a imap.MailboxAttr) bool { return strings.EqualFold(string(a), string(want)) })
}

// refusedLookAlikes are characters some servers refuse in a folder name,
// each with the look-alike that stands in for it when the target refused a
// CREATE. Cyrus 3.6 answers "NO Invalid mailbox name" to any of < > % ; \ /
// { } | " ! ` inside a level (with either separator; "/" is the separator
// itself under unixhierarchysep, so Join already replaced it) and to ^ under
// unixhierarchysep, where it stores "." as "^". "/" gets Join's look-alike.
var refusedLookAlikes = map[rune]string{
	'<':  "\u2039", // ‹ SINGLE LEFT-POINTING ANGLE QUOTATION MARK
	'>':  "\u203A", // › SINGLE RIGHT-POINTING ANGLE QUOTATION MARK
	'%':  "\uFF05", // ％ FULLWIDTH PERCENT SIGN
	';':  "\uFF1B", // ；
	'\\': "\uFF3C", // ＼
	'/':  "\u2215", // ∕ DIVISION SLASH, as in lookAlike
	'{':  "\uFF5B", // ｛
	'}':  "\uFF5D", // ｝
	'|':  "\uFF5C", // ｜
	'"':  "\uFF02", // ＂
	'!':  "\uFF01", // ！
	'^':  "\uFF3E", // ＾
	'`':  "\uFF40", // ｀ FULLWIDTH GRAVE ACCENT
}

// refusedChars lists the characters mapRefused replaces, for messages.
const refusedChars = "< > % ; \\ / { } | \" ! ^ `"

// hasRefusedChar reports whether a level holds a character that some
// targets refuse in folder names.
func hasRefusedChar(level string) bool {
	return strings.ContainsFunc(level, func(r rune) bool { _, ok := refusedLookAlikes[r]; return ok })
}

// mapRefusedLevel replaces each refused character of a level by its
// look-alike.
func mapRefusedLevel(level string) string {
	var b strings.Builder
	for _, r := range level {
		if s, ok := refusedLookAlikes[r]; ok {
			b.WriteString(s)
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MayBeRefused reports whether a full mailbox name of h has a level with a
// character that some targets refuse, so that a move may create it under a
// look-alike name (see mapRefused).
func (h Hierarchy) MayBeRefused(name string) bool {
	levels, err := h.Levels(name)
	return err == nil && slices.ContainsFunc(levels, hasRefusedChar)
}

// mapRefused is the name to CREATE instead of name, a target name of h that
// the target refused: the levels below the deepest ancestor that exists
// (exists says which full names do) get look-alikes for the refused
// characters, so the folder stays under its parent, and a parent that had
// to be created with it is mapped too. ok is false when nothing changes.
// The result depends only on its inputs: a resumed move that asks again
// gets the same name.
func (h Hierarchy) mapRefused(name string, exists func(string) bool) (mapped string, ok bool) {
	levels, err := h.Levels(name)
	if err != nil || len(levels) == 1 && levels[0] == "INBOX" {
		return name, false
	}
	keep := 0
	for i := len(levels) - 1; i >= 1; i-- {
		if exists(h.Join(levels[:i])) {
			keep = i
			break
		}
	}
	out := slices.Clone(levels)
	for i := keep; i < len(out); i++ {
		out[i] = mapRefusedLevel(out[i])
	}
	mapped = h.Join(out)
	return mapped, mapped != name
}

// unusedName returns name, or, when taken says another folder has it,
// name with " (2)", " (3)", ... added to its last level: the first that is
// free. taken must be true for finitely many names.
func (h Hierarchy) unusedName(name string, taken func(string) bool) string {
	if !taken(name) {
		return name
	}
	levels, err := h.Levels(name)
	if err != nil {
		levels = []string{name}
	}
	last := levels[len(levels)-1]
	for n := 2; ; n++ {
		levels[len(levels)-1] = fmt.Sprintf("%s (%d)", last, n)
		if c := h.Join(levels); !taken(c) {
			return c
		}
	}
}

// underRenamed rewrites a target name of h whose ancestor was created under
// another name (renamed maps the planned full name to the created one), so
// that children follow their renamed parent. The deepest renamed ancestor
// wins; names without one are returned as they are.
func (h Hierarchy) underRenamed(name string, renamed map[string]string) string {
	if h.Delim == 0 || len(renamed) == 0 {
		return name
	}
	levels, err := h.Levels(name)
	if err != nil {
		return name
	}
	for i := len(levels) - 1; i >= 1; i-- {
		to, ok := renamed[h.Join(levels[:i])]
		if !ok {
			continue
		}
		tl, err := h.Levels(to)
		if err != nil {
			return name
		}
		return h.Join(append(tl, levels[i:]...))
	}
	return name
}
