package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// TestDockerfileBuild runs the Dockerfile's build line exactly (environment,
// flags, package) and checks the result: a static binary (no ELF
// interpreter, so it runs on a distroless image) that answers -h.
func TestDockerfileBuild(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); strings.HasPrefix(l, "RUN ") && strings.Contains(l, "go build") {
			line = strings.TrimPrefix(l, "RUN ")
		}
	}
	if line == "" {
		t.Fatal("Dockerfile has no RUN ... go build line")
	}
	out := filepath.Join(t.TempDir(), "movewizard")
	line = strings.Replace(line, "/out/movewizard", out, 1)
	if !strings.Contains(line, "CGO_ENABLED=0") || !strings.Contains(line, "-trimpath") {
		t.Fatalf("build line %q lacks CGO_ENABLED=0 or -trimpath", line)
	}
	cmd := exec.Command("sh", "-c", line)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+filepath.Join(runtime.GOROOT(), "bin")+":"+os.Getenv("PATH"))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, b)
	}
	bin, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()
	for _, p := range bin.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary has an ELF interpreter: not static, would not run on the distroless image")
		}
	}
	b, err := exec.Command(out, "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(b), "movewizard serve") {
		t.Fatalf("%s -h = %v\n%s", out, err, b)
	}
}

// TestDockerignore checks .dockerignore with Docker's matching rules (a
// pattern is anchored at the context root, ** spans directories, and a
// match excludes everything below it): every tracked file the build reads
// stays in the context, and build and test leftovers do not.
func TestDockerignore(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []*regexp.Regexp
	for _, l := range strings.Split(string(data), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasPrefix(l, "!") {
			t.Fatalf(".dockerignore: exceptions (%q) are not understood by this test", l)
		}
		patterns = append(patterns, dockerignoreRegexp(l))
	}
	ignored := func(path string) bool {
		for _, re := range patterns {
			// A match of the path or of a directory above it.
			for p := path; p != "."; p = filepath.Dir(p) {
				if re.MatchString(p) {
					return true
				}
			}
		}
		return false
	}

	ls := exec.Command("git", "ls-files")
	ls.Dir = root
	out, err := ls.Output()
	if err != nil {
		t.Skipf("git ls-files: %v (not a git checkout?)", err)
	}
	needed := 0
	for _, f := range strings.Fields(string(out)) {
		build := strings.HasSuffix(f, ".go") || filepath.Base(f) == "go.mod" || filepath.Base(f) == "go.sum" ||
			strings.HasPrefix(f, "static/files/") || strings.HasPrefix(f, "db/migrations/")
		if build && !strings.HasSuffix(f, "_test.go") {
			needed++
			if ignored(f) {
				t.Errorf(".dockerignore excludes %s, which the image build needs", f)
			}
		}
	}
	if needed == 0 {
		t.Fatal("git ls-files listed no Go sources")
	}
	for _, junk := range []string{".git/HEAD", "movewizard", "zzprof.test", "migrate/migrate.test", "cpu.prof",
		"mem.pprof", "mw.db", "mw.db-wal", "mw.db-shm", "mw.db.lock", "data/jobs.db",
		"migrate/testdata/artifacts/run1/log.txt", "cmd/movewizard/testdata/artifacts/x"} {
		if !ignored(junk) {
			t.Errorf(".dockerignore lets %s into the build context", junk)
		}
	}
	if ignored("cmd/movewizard/main.go") || ignored("migrate/third_party/go-imap/go.mod") {
		t.Error(".dockerignore excludes the command's sources or the replaced module")
	}
}

// dockerignoreRegexp translates one .dockerignore pattern the way Docker
// does (github.com/moby/patternmatcher): cleaned, anchored at the root, *
// and ? within a path element, ** across elements.
func dockerignoreRegexp(pattern string) *regexp.Regexp {
	pattern = filepath.Clean(strings.TrimPrefix(pattern, "/"))
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '*' && strings.HasPrefix(pattern[i:], "**/"):
			b.WriteString("(.*/)?")
			i += 2
		case c == '*' && strings.HasPrefix(pattern[i:], "**"):
			b.WriteString(".*")
			i++
		case c == '*':
			b.WriteString("[^/]*")
		case c == '?':
			b.WriteString("[^/]")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
