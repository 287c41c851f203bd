package policywire_test

import (
	"bufio"
	"bytes"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/policywire/policywire"

// layer is a package tree (relative to the module, "" for the root package)
// and the other packages of ours it may import.
type layer struct {
	pkg     string
	allowed []string
}

// lowerLayers are the layers that must not know the ones above them, and the
// packages of ours each may use besides itself and what lies under it. They
// follow the pipeline: the domain at the root knows nothing; query only the
// domain; sources (reading pages) only the domain; store only the domain and
// the query language; store/index the store and the query language, whose
// matching it mirrors. config, bot (and its platforms), summary, cmd and
// internal/... are above all of them, so none of those may appear.
var lowerLayers = []layer{
	{pkg: "query", allowed: []string{""}},
	{pkg: "sources", allowed: []string{""}},
	{pkg: "store", allowed: []string{"", "query"}},
	{pkg: "store/index", allowed: []string{"", "query", "store"}},
}

// TestLowerLayersImportNothingAbove keeps the layering readable top to
// bottom: a parser that needs config, or an index that needs bot, fails here
// with the import chain that brings it in.
func TestLowerLayersImportNothingAbove(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"-f", "{{.ImportPath}} {{.DepOnly}}{{range .Imports}} {{.}}{{end}}",
		"./store/...", "./sources/...", "./query/...").Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}

	imports := map[string][]string{} // our package (relative to the module) → our packages it imports
	var listed []string              // the packages the patterns matched
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		pkg, ok := ours(fields[0])
		if !ok {
			continue
		}
		if fields[1] == "false" {
			listed = append(listed, pkg)
		}
		for _, imp := range fields[2:] {
			if dep, ok := ours(imp); ok {
				imports[pkg] = append(imports[pkg], dep)
			}
		}
	}
	if len(listed) == 0 {
		t.Fatalf("go list matched none of our packages:\n%s", out)
	}

	for _, pkg := range listed {
		l, ok := layerOf(pkg)
		if !ok {
			t.Errorf("%s is under a lower layer the test does not know: add it to lowerLayers", show(pkg))
			continue
		}
		for _, chain := range forbiddenChains(pkg, l, imports) {
			t.Errorf("%s must not import %s: %s", show(l.pkg), show(chain[len(chain)-1]), showChain(chain))
		}
	}
}

// forbiddenChains walks our imports from pkg breadth first and returns, for
// each package it reaches that is neither in the layer, under it, nor
// allowed, the shortest chain of imports leading there.
func forbiddenChains(pkg string, l layer, imports map[string][]string) [][]string {
	permitted := func(p string) bool {
		return within(p, l.pkg) || slices.Contains(l.allowed, p)
	}
	via := map[string]string{pkg: ""}
	queue := []string{pkg}
	var chains [][]string
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, dep := range imports[p] {
			if _, seen := via[dep]; seen {
				continue
			}
			via[dep] = p
			if !permitted(dep) {
				chain := []string{dep}
				for q := p; q != ""; q = via[q] {
					chain = append([]string{q}, chain...)
				}
				chains = append(chains, chain)
				continue // one chain per offender is enough to act on
			}
			queue = append(queue, dep)
		}
	}
	return chains
}

// layerOf returns the most specific lower layer pkg belongs to.
func layerOf(pkg string) (l layer, ok bool) {
	for _, c := range lowerLayers {
		if within(pkg, c.pkg) && (!ok || len(c.pkg) > len(l.pkg)) {
			l, ok = c, true
		}
	}
	return l, ok
}

// within reports whether pkg is layer or a package under it ("" is the
// root package only: everything would be under it otherwise).
func within(pkg, layer string) bool {
	if layer == "" {
		return pkg == ""
	}
	return pkg == layer || strings.HasPrefix(pkg, layer+"/")
}

// ours returns path relative to the module, "" for the root package.
func ours(path string) (string, bool) {
	if path == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

func show(pkg string) string {
	if pkg == "" {
		return module
	}
	return pkg
}

func showChain(chain []string) string {
	shown := make([]string, len(chain))
	for i, p := range chain {
		shown[i] = show(p)
	}
	return strings.Join(shown, " → ")
}
