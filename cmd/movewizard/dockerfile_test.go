package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
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
