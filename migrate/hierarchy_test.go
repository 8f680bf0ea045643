package migrate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
)

var (
	dotPrefix = Hierarchy{Delim: '.', Prefix: "INBOX."} // Courier, Cyrus, Dovecot with prefix
	slashNone = Hierarchy{Delim: '/'}
	dotNone   = Hierarchy{Delim: '.'}
	flat      = Hierarchy{}
)

func TestLevels(t *testing.T) {
	tests := []struct {
		name string
		h    Hierarchy
		in   string
		want []string
		err  error
	}{
		{"prefix removed", dotPrefix, "INBOX.Archive.2023", []string{"Archive", "2023"}, nil},
		{"prefix case-insensitive", dotPrefix, "inbox.Foo", []string{"Foo"}, nil},
		{"inbox on prefix server", dotPrefix, "INBOX", []string{"INBOX"}, nil},
		{"inbox lower case", slashNone, "inbox", []string{"INBOX"}, nil},
		{"inbox mixed case on prefix server", dotPrefix, "Inbox", []string{"INBOX"}, nil},
		{"inbox child", slashNone, "INBOX/x", []string{"INBOX", "x"}, nil},
		{"inbox child lower case", slashNone, "inbox/x", []string{"INBOX", "x"}, nil},
		{"top-level inbox-named folder under prefix", dotPrefix, "INBOX.Inbox.x", []string{"Inbox", "x"}, nil},
		{"inbox-named folder under prefix is not the INBOX", dotPrefix, "INBOX.inbox", []string{"inbox"}, nil},
		{"INBOX under prefix is the INBOX", dotPrefix, "INBOX.INBOX", []string{"INBOX"}, nil},
		{"slash", slashNone, "Archive/2023", []string{"Archive", "2023"}, nil},
		{"dot inside slash level", slashNone, "v1.2/x", []string{"v1.2", "x"}, nil},
		{"slash inside dot level", dotPrefix, "INBOX.a/b", []string{"a/b"}, nil},
		{"flat", flat, "Archive.2023", []string{"Archive.2023"}, nil},
		{"utf-8 and markup", slashNone, "Été/<script>", []string{"Été", "<script>"}, nil},
		{"empty level", dotNone, "a..b", nil, ErrBadFolderName},
		{"trailing delimiter", slashNone, "a/", nil, ErrBadFolderName},
		{"leading delimiter", slashNone, "/a", nil, ErrBadFolderName},
		{"prefix alone", dotPrefix, "INBOX.", nil, ErrBadFolderName},
		{"empty", slashNone, "", nil, ErrBadFolderName},
		{"not utf-8", slashNone, "a\xffb", nil, ErrBadFolderName},
		{"outside namespace", dotPrefix, "shared.team", nil, ErrOutsideNamespace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.h.Levels(tt.in)
			if !errors.Is(err, tt.err) {
				t.Fatalf("Levels(%q) error = %v, want %v", tt.in, err, tt.err)
			}
			if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
				t.Errorf("Levels(%q) error = %q, want it to name the folder", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Levels(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestJoin(t *testing.T) {
	tests := []struct {
		name   string
		h      Hierarchy
		levels []string
		want   string
	}{
		{"prefix added", dotPrefix, []string{"Archive", "2023"}, "INBOX.Archive.2023"},
		{"no prefix", slashNone, []string{"Archive", "2023"}, "Archive/2023"},
		{"inbox never prefixed", dotPrefix, []string{"INBOX"}, "INBOX"},
		{"inbox upper-cased", slashNone, []string{"inbox"}, "INBOX"},
		{"inbox child", slashNone, []string{"inbox", "x"}, "INBOX/x"},
		// Under a prefix "INBOX.x" would be top-level "x": the child keeps
		// its parent as a top-level folder named INBOX.
		{"inbox child under prefix", dotPrefix, []string{"INBOX", "x"}, "INBOX.INBOX.x"},
		{"inbox-named folder under prefix", dotPrefix, []string{"inbox"}, "INBOX.inbox"},
		{"slash in level", slashNone, []string{"a/b"}, "a\u2215b"},
		{"dot in level", dotPrefix, []string{"v1.2", "x"}, "INBOX.v1\u20242.x"},
		{"other delimiter", Hierarchy{Delim: ':'}, []string{"a:b", "c"}, "a_b:c"},
		{"flat", flat, []string{"Archive", "2023"}, "Archive\u22152023"},
		{"utf-8 and markup", slashNone, []string{"Été", "<b>&amp;", `"q" \ * %`, "📧"}, `Été/<b>&amp;/"q" \ * %/📧`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.h.Join(tt.levels); got != tt.want {
				t.Errorf("Join(%q) = %q, want %q", tt.levels, got, tt.want)
			}
		})
	}
}

func attrs(a ...imap.MailboxAttr) []imap.MailboxAttr { return a }

func src(names ...string) []SourceFolder {
	var out []SourceFolder
	for _, n := range names {
		out = append(out, SourceFolder{Name: n})
	}
	return out
}

// create and exists build expected plans, to keep the table readable.
func create(from, to string) FolderPlan { return FolderPlan{Source: from, Target: to, Create: true} }
func exists(from, to string) FolderPlan { return FolderPlan{Source: from, Target: to, Exists: true} }

func TestPlanHierarchy(t *testing.T) {
	inbox := []TargetFolder{{Name: "INBOX"}}
	tests := []struct {
		name       string
		src        []SourceFolder
		dst        []TargetFolder
		srcH, dstH Hierarchy
		want       []FolderPlan
		skipped    []SkippedFolder
	}{
		{
			name: "dot with prefix to slash without",
			src:  src("INBOX", "INBOX.Archive.2023", "INBOX.Archive", "INBOX.Q&A", "INBOX.a/b"),
			dst:  inbox, srcH: dotPrefix, dstH: slashNone,
			want: []FolderPlan{create("INBOX.Archive", "Archive"), exists("INBOX", "INBOX"),
				create("INBOX.Q&A", "Q&A"), create("INBOX.a/b", "a\u2215b"), create("INBOX.Archive.2023", "Archive/2023")},
		},
		{
			name: "slash without prefix to dot with",
			src:  src("INBOX", "INBOX/Foo", "Archive", "Archive/2023", "v1.2"),
			dst:  inbox, srcH: slashNone, dstH: dotPrefix,
			want: []FolderPlan{exists("INBOX", "INBOX"), create("Archive", "INBOX.Archive"),
				create("v1.2", "INBOX.v1\u20242"), create("Archive/2023", "INBOX.Archive.2023"), create("INBOX/Foo", "INBOX.INBOX.Foo")},
		},
		{
			name: "inbox case-insensitive and its children",
			src:  src("inbox", "Inbox/Foo"),
			dst:  inbox, srcH: slashNone, dstH: dotNone,
			want: []FolderPlan{exists("inbox", "INBOX"), create("Inbox/Foo", "INBOX.Foo")},
		},
		{
			// As Dovecot 2.3 with prefix "INBOX." lists a child of INBOX.
			name: "inbox children from a prefixed server",
			src: []SourceFolder{{Name: "INBOX"}, {Name: "INBOX.INBOX", Attrs: attrs(imap.MailboxAttrNoSelect)},
				{Name: "INBOX.INBOX.Foo"}, {Name: "INBOX.inbox"}},
			dst: inbox, srcH: dotPrefix, dstH: Hierarchy{Delim: '/', Prefix: "INBOX/"},
			want:    []FolderPlan{exists("INBOX", "INBOX"), create("INBOX.inbox", "INBOX/inbox"), create("INBOX.INBOX.Foo", "INBOX/INBOX/Foo")},
			skipped: []SkippedFolder{{"INBOX.INBOX", "\\Noselect placeholder for INBOX"}},
		},
		{
			name: "inbox children from a prefixed to a prefix-less server",
			src:  []SourceFolder{{Name: "INBOX"}, {Name: "INBOX.INBOX", Attrs: attrs(imap.MailboxAttrNoSelect)}, {Name: "INBOX.INBOX.Foo"}},
			dst:  inbox, srcH: dotPrefix, dstH: slashNone,
			want:    []FolderPlan{exists("INBOX", "INBOX"), create("INBOX.INBOX.Foo", "INBOX/Foo")},
			skipped: []SkippedFolder{{"INBOX.INBOX", "\\Noselect placeholder for INBOX"}},
		},
		{
			name: "special use with children following",
			src: []SourceFolder{{Name: "INBOX"}, {Name: "Sent Items", Attrs: attrs(imap.MailboxAttrSent), Subscribed: true},
				{Name: "Sent Items/2023", Subscribed: true}, {Name: "Trash", Attrs: attrs("\\TRASH")}},
			dst: []TargetFolder{{Name: "INBOX"}, {Name: "INBOX.Trash", Attrs: attrs(imap.MailboxAttrTrash)},
				{Name: "INBOX.Sent", Attrs: attrs(imap.MailboxAttrSent)}, {Name: "INBOX.Drafts", Attrs: attrs(imap.MailboxAttrDrafts)}},
			srcH: slashNone, dstH: dotPrefix,
			want: []FolderPlan{exists("INBOX", "INBOX"),
				{Source: "Sent Items", Target: "INBOX.Sent", SpecialUse: imap.MailboxAttrSent, Exists: true, Subscribe: true},
				{Source: "Trash", Target: "INBOX.Trash", SpecialUse: imap.MailboxAttrTrash, Exists: true},
				{Source: "Sent Items/2023", Target: "INBOX.Sent.2023", Create: true, Subscribe: true}},
		},
		{
			name: "two sent folders: first maps, second created",
			src: []SourceFolder{{Name: "Sent Items", Attrs: attrs(imap.MailboxAttrSent)},
				{Name: "Sent", Attrs: attrs(imap.MailboxAttrSent)}},
			dst:  []TargetFolder{{Name: "Sent", Attrs: attrs(imap.MailboxAttrSent)}},
			srcH: slashNone, dstH: slashNone,
			want: []FolderPlan{{Source: "Sent", Target: "Sent", SpecialUse: imap.MailboxAttrSent, Exists: true},
				create("Sent Items", "Sent Items")},
		},
		{
			name: "two sent folders: the one named like the target's maps",
			src: []SourceFolder{{Name: "Sent", Attrs: attrs(imap.MailboxAttrSent)},
				{Name: "Sent Items", Attrs: attrs(imap.MailboxAttrSent)}},
			dst:  []TargetFolder{{Name: "Sent Items", Attrs: attrs(imap.MailboxAttrSent)}},
			srcH: slashNone, dstH: slashNone,
			want: []FolderPlan{create("Sent", "Sent"),
				{Source: "Sent Items", Target: "Sent Items", SpecialUse: imap.MailboxAttrSent, Exists: true}},
		},
		{
			name: "special use without target folder is created with its use",
			src:  []SourceFolder{{Name: "INBOX.Spam", Attrs: attrs(imap.MailboxAttrJunk)}},
			srcH: dotPrefix, dstH: slashNone,
			want: []FolderPlan{{Source: "INBOX.Spam", Target: "Spam", SpecialUse: imap.MailboxAttrJunk, Create: true}},
		},
		{
			name: "virtual folders skipped, empty noselect parent skipped",
			src: []SourceFolder{{Name: "[Gmail]", Attrs: attrs(imap.MailboxAttrNoSelect)},
				{Name: "[Gmail]/All Mail", Attrs: attrs(imap.MailboxAttrAll)},
				{Name: "[Gmail]/Starred", Attrs: attrs(imap.MailboxAttrFlagged)},
				{Name: "[Gmail]/Sent Mail", Attrs: attrs(imap.MailboxAttrSent)}},
			dst:  []TargetFolder{{Name: "INBOX.Sent", Attrs: attrs(imap.MailboxAttrSent)}},
			srcH: slashNone, dstH: dotPrefix,
			want: []FolderPlan{{Source: "[Gmail]/Sent Mail", Target: "INBOX.Sent", SpecialUse: imap.MailboxAttrSent, Exists: true}},
			skipped: []SkippedFolder{
				{"[Gmail]/All Mail", "virtual \\All or \\Flagged folder: its messages are copied from their real folders"},
				{"[Gmail]/Starred", "virtual \\All or \\Flagged folder: its messages are copied from their real folders"},
				{"[Gmail]", "\\Noselect folder without children"}},
		},
		{
			name: "noselect parent with children",
			src: []SourceFolder{{Name: "a", Attrs: attrs(imap.MailboxAttrNoSelect)}, {Name: "a/b"},
				{Name: "c", Attrs: attrs(imap.MailboxAttrNonExistent)}},
			srcH: slashNone, dstH: slashNone,
			want:    []FolderPlan{{Source: "a", Target: "a", Create: true, NoSelect: true}, create("a/b", "a/b")},
			skipped: []SkippedFolder{{"c", "\\Noselect folder without children"}},
		},
		{
			name: "flat target from slash",
			src:  []SourceFolder{{Name: "INBOX"}, {Name: "Archive", Attrs: attrs(imap.MailboxAttrNoSelect)}, {Name: "Archive/2023"}},
			dst:  inbox, srcH: slashNone, dstH: flat,
			want:    []FolderPlan{exists("INBOX", "INBOX"), create("Archive/2023", "Archive\u22152023")},
			skipped: []SkippedFolder{{"Archive", "\\Noselect folder: the target is flat and has no hierarchy to hold"}},
		},
		{
			name: "flat target from dot",
			src:  src("INBOX.Archive.2023"),
			srcH: dotPrefix, dstH: flat,
			want: []FolderPlan{create("INBOX.Archive.2023", "Archive\u20242023")},
		},
		{
			name: "missing parents, parents first by level count then name",
			src:  src("INBOX.z.y.x", "INBOX.b.c", "INBOX.a", "INBOX.b.a"),
			srcH: dotPrefix, dstH: slashNone,
			want: []FolderPlan{create("INBOX.a", "a"), create("INBOX.b.a", "b/a"), create("INBOX.b.c", "b/c"), create("INBOX.z.y.x", "z/y/x")},
		},
		{
			name: "same name exists on target",
			src:  src("INBOX.Projects"),
			dst:  []TargetFolder{{Name: "Projects"}},
			srcH: dotPrefix, dstH: slashNone,
			want: []FolderPlan{exists("INBOX.Projects", "Projects")},
		},
		{
			name: "outside the personal namespace skipped",
			src:  src("INBOX.mine", "shared.team"),
			srcH: dotPrefix, dstH: slashNone,
			want:    []FolderPlan{create("INBOX.mine", "mine")},
			skipped: []SkippedFolder{{"shared.team", "outside the personal namespace"}},
		},
		{
			name: "names pass through untouched",
			src:  src("Été", "<img src=x onerror=alert(1)>", "a b", "*", "%", `"q"`, `back\slash`, "📧 mail"),
			srcH: slashNone, dstH: dotPrefix,
			want: []FolderPlan{create(`"q"`, `INBOX."q"`), create("%", "INBOX.%"), create("*", "INBOX.*"),
				create("<img src=x onerror=alert(1)>", "INBOX.<img src=x onerror=alert(1)>"), create("a b", "INBOX.a b"),
				create(`back\slash`, `INBOX.back\slash`), create("Été", "INBOX.Été"), create("📧 mail", "INBOX.📧 mail")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped, err := PlanHierarchy(tt.src, tt.dst, tt.srcH, tt.dstH)
			if err != nil {
				t.Fatalf("PlanHierarchy() error = %v, want nil", err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("PlanHierarchy() = %+v, want %+v", got, tt.want)
			}
			if !slices.Equal(skipped, tt.skipped) {
				t.Errorf("PlanHierarchy() skipped = %+v, want %+v", skipped, tt.skipped)
			}
			for _, p := range got {
				if p.Exists == p.Create {
					t.Errorf("PlanHierarchy() plan %+v: Exists == Create, want exactly one", p)
				}
			}
		})
	}
}

func TestPlanHierarchyErrors(t *testing.T) {
	tests := []struct {
		name       string
		src        []SourceFolder
		dst        []TargetFolder
		srcH, dstH Hierarchy
		err        error
		text       string
	}{
		{
			// "a/b" is one level on a "." server; on a "/" server it becomes
			// "a∕b", which the source also has as a literal name.
			name: "look-alike collision",
			src:  src("INBOX.a/b", "INBOX.a\u2215b"),
			srcH: dotPrefix, dstH: slashNone,
			err:  ErrFolderCollision,
			text: `source folders "INBOX.a/b" and "INBOX.a∕b" both map to target "a∕b": folder name collision`,
		},
		{
			name: "plain folder on a mapped special-use name",
			src:  []SourceFolder{{Name: "Sent"}, {Name: "Sent Items", Attrs: attrs(imap.MailboxAttrSent)}},
			dst:  []TargetFolder{{Name: "Sent", Attrs: attrs(imap.MailboxAttrSent)}},
			srcH: slashNone, dstH: slashNone,
			err:  ErrFolderCollision,
			text: `source folders "Sent" and "Sent Items" both map to target "Sent": folder name collision`,
		},
		{
			// Dovecot answers CREATE "INBOX.INBOX" with ALREADYEXISTS.
			name: "selectable top-level INBOX under prefix is the INBOX",
			src:  src("INBOX", "INBOX.INBOX"),
			srcH: dotPrefix, dstH: slashNone,
			err:  ErrFolderCollision,
			text: `source folders "INBOX" and "INBOX.INBOX" both map to target "INBOX": folder name collision`,
		},
		{
			// Without a prefix "inbox" is the INBOX (RFC 3501 §5.1).
			name: "inbox-named folder onto a prefix-less server",
			src:  src("INBOX", "INBOX.inbox"),
			srcH: dotPrefix, dstH: slashNone,
			err:  ErrFolderCollision,
			text: `source folders "INBOX" and "INBOX.inbox" both map to target "INBOX": folder name collision`,
		},
		{
			name: "empty level",
			src:  src("INBOX.a..b"),
			srcH: dotPrefix, dstH: slashNone,
			err:  ErrBadFolderName,
			text: `source: folder "INBOX.a..b": empty hierarchy level: invalid folder name`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := PlanHierarchy(tt.src, tt.dst, tt.srcH, tt.dstH)
			if !errors.Is(err, tt.err) {
				t.Fatalf("PlanHierarchy() error = %v, want %v", err, tt.err)
			}
			if err.Error() != tt.text {
				t.Errorf("PlanHierarchy() error = %q, want %q", err, tt.text)
			}
		})
	}
}

// FuzzJoinLevels checks that Join keeps every level one level: Levels(Join(l))
// has len(l) levels, for both usual delimiters, with and without a prefix, and
// each is the level with only the delimiter replaced (and INBOX upper-cased).
func FuzzJoinLevels(f *testing.F) {
	for _, seed := range [][3]string{
		{"Archive", "2023", ""}, {"INBOX", "x", "y"}, {"inbox", "", ""}, {"a/b", "v1.2", "c"},
		{"Été", "<script>", "📧"}, {"INBOX.", ".", "/"}, {"\u2215", "\u2024", "_"}, {"Inbox", "INBOX", "inbox"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		var levels []string
		for _, l := range []string{a, b, c} {
			// Empty levels cannot exist; invalid UTF-8 cannot come out of a
			// modified UTF-7 decoder and Levels rejects it.
			if l == "" || !utf8.ValidString(l) {
				break
			}
			levels = append(levels, l)
		}
		if len(levels) == 0 {
			return
		}
		for _, h := range []Hierarchy{dotNone, slashNone, dotPrefix, {Delim: '/', Prefix: "INBOX/"}} {
			name := h.Join(levels)
			got, err := h.Levels(name)
			if err != nil {
				t.Fatalf("%+v: Levels(Join(%q) = %q) error = %v, want nil", h, levels, name, err)
			}
			if len(got) != len(levels) {
				t.Fatalf("%+v: Levels(Join(%q) = %q) = %q, want %d levels", h, levels, name, got, len(levels))
			}
			for i, l := range levels {
				want := strings.ReplaceAll(l, string(h.Delim), lookAlike(h.Delim))
				if i == 0 && strings.EqualFold(want, "INBOX") && (h.Prefix == "" || len(levels) == 1 && l == "INBOX") {
					want = "INBOX"
				}
				if got[i] != want {
					t.Fatalf("%+v: Levels(Join(%q) = %q) = %q, want level %d %q", h, levels, name, got, i, want)
				}
			}
		}
	})
}

func TestMapRefused(t *testing.T) {
	slashPrefix := Hierarchy{Delim: '/', Prefix: "INBOX/"}
	tests := []struct {
		name     string
		h        Hierarchy
		in       string
		existing []string // besides INBOX
		want     string
		ok       bool
	}{
		{"markup at top level", dotPrefix, "INBOX.<img src=x onerror=alert(1)>", nil, "INBOX.‹img src=x onerror=alert(1)›", true},
		{"percent under an existing parent", dotPrefix, "INBOX.Projects.100% done", []string{"INBOX.Projects"}, "INBOX.Projects.100％ done", true},
		{"quotes", dotPrefix, `INBOX.Projects.Say "hi"`, []string{"INBOX.Projects"}, "INBOX.Projects.Say ＂hi＂", true},
		{"every character", slashNone, `a<>%;\{}|"!^b`, nil, "a‹›％；＼｛｝｜＂！＾b", true},
		{"slash inside a dot level", dotPrefix, "INBOX.v1/2", nil, "INBOX.v1∕2", true},
		{"existing parent keeps its name", dotPrefix, "INBOX.a!.b!", []string{"INBOX.a!"}, "INBOX.a!.b！", true},
		{"missing parent is mapped too", dotPrefix, "INBOX.a!.b!", nil, "INBOX.a！.b！", true},
		{"deepest existing ancestor", slashPrefix, "INBOX/a|/b|/c|", []string{"INBOX/a|", "INBOX/a|/b|"}, "INBOX/a|/b|/c｜", true},
		{"inbox child", slashNone, "INBOX/x;y", nil, "INBOX/x；y", true},
		{"flat target", flat, "a∕<b>", nil, "a∕‹b›", true},
		{"nothing to map", dotPrefix, "INBOX.plain", nil, "INBOX.plain", false},
		{"offending level exists already", dotPrefix, "INBOX.a!.b", []string{"INBOX.a!"}, "INBOX.a!.b", false},
		{"inbox", dotPrefix, "INBOX", nil, "INBOX", false},
		{"outside the namespace", dotPrefix, "shared.<x>", nil, "shared.<x>", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exist := func(n string) bool { return n == "INBOX" || slices.Contains(tt.existing, n) }
			got, ok := tt.h.mapRefused(tt.in, exist)
			if got != tt.want || ok != tt.ok {
				t.Errorf("mapRefused(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
			if l, err := tt.h.Levels(got); ok && err == nil && hasRefusedChar(l[len(l)-1]) {
				t.Errorf("mapRefused(%q) = %q: its own level still has a refused character", tt.in, got)
			}
			if again, _ := tt.h.mapRefused(tt.in, exist); again != got {
				t.Errorf("mapRefused(%q) = %q, then %q: not deterministic", tt.in, got, again)
			}
			if ok {
				gl, err1 := tt.h.Levels(got)
				il, err2 := tt.h.Levels(tt.in)
				if err1 != nil || err2 != nil || len(gl) != len(il) {
					t.Errorf("mapRefused(%q) = %q: levels %q, want as many as %q", tt.in, got, gl, il)
				}
			}
		})
	}
}

func TestMayBeRefused(t *testing.T) {
	for _, tt := range []struct {
		h    Hierarchy
		name string
		want bool
	}{
		{slashNone, "Projects/100% done", true},
		{slashNone, "<img src=x onerror=alert(1)>", true},
		{slashNone, `Projects/Say "hi"`, true},
		{slashNone, "Projects/plain", false},
		{slashNone, "INBOX", false},
		{dotNone, "v1/2", true}, // "/" inside a level
		{slashNone, "Q&A*?#~", false},
		{dotPrefix, "shared.x!", false}, // not a folder of the user's
	} {
		if got := tt.h.MayBeRefused(tt.name); got != tt.want {
			t.Errorf("%+v.MayBeRefused(%q) = %v, want %v", tt.h, tt.name, got, tt.want)
		}
	}
}

func TestUnusedName(t *testing.T) {
	taken := func(names ...string) func(string) bool {
		return func(n string) bool { return slices.Contains(names, n) }
	}
	for _, tt := range []struct {
		h     Hierarchy
		name  string
		taken []string
		want  string
	}{
		{dotPrefix, "INBOX.‹x›", nil, "INBOX.‹x›"},
		{dotPrefix, "INBOX.‹x›", []string{"INBOX.‹x›"}, "INBOX.‹x› (2)"},
		{dotPrefix, "INBOX.a.‹x›", []string{"INBOX.a.‹x›", "INBOX.a.‹x› (2)"}, "INBOX.a.‹x› (3)"},
		{flat, "‹x›", []string{"‹x›"}, "‹x› (2)"},
	} {
		if got := tt.h.unusedName(tt.name, taken(tt.taken...)); got != tt.want {
			t.Errorf("unusedName(%q, taken %q) = %q, want %q", tt.name, tt.taken, got, tt.want)
		}
	}
}

func TestUnderRenamed(t *testing.T) {
	renamed := map[string]string{"INBOX.<a>": "INBOX.‹a›", "INBOX.<a>.<b>": "INBOX.‹a›.‹b› (2)"}
	for _, tt := range []struct {
		h          Hierarchy
		name, want string
	}{
		{dotPrefix, "INBOX.<a>", "INBOX.<a>"}, // the folder itself: not its own child
		{dotPrefix, "INBOX.<a>.x", "INBOX.‹a›.x"},
		{dotPrefix, "INBOX.<a>.x.y", "INBOX.‹a›.x.y"},
		{dotPrefix, "INBOX.<a>.<b>.c", "INBOX.‹a›.‹b› (2).c"}, // the deepest renamed ancestor
		{dotPrefix, "INBOX.<ab>.c", "INBOX.<ab>.c"},
		{dotPrefix, "INBOX.other", "INBOX.other"},
		{flat, "INBOX.<a>.x", "INBOX.<a>.x"},
	} {
		if got := tt.h.underRenamed(tt.name, renamed); got != tt.want {
			t.Errorf("underRenamed(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestParseFolderRename(t *testing.T) {
	for _, fr := range []FolderRename{
		{Source: "<img src=x onerror=alert(1)>", Target: "INBOX.‹img src=x onerror=alert(1)›", Reason: `the target refused "INBOX.<img src=x onerror=alert(1)>" (imap: NO Invalid mailbox name)`},
		{Source: `Projects/Say "hi"`, Target: "INBOX.Projects.Say ＂hi＂", Reason: "x → y: z"},
		{Source: "a → b", Target: `c": d`, Reason: ""},
	} {
		got, ok := ParseFolderRename(fr.Message())
		if !ok || got != fr {
			t.Errorf("ParseFolderRename(%q) = %+v, %v; want %+v", fr.Message(), got, ok, fr)
		}
	}
	for _, msg := range []string{"", "moved 3 messages", `"a" -> "b": c`, `"a" → b`} {
		if got, ok := ParseFolderRename(msg); ok {
			t.Errorf("ParseFolderRename(%q) = %+v, want not ok", msg, got)
		}
	}
}
