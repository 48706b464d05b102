package audit_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFailNowOnlyOnTestGoroutine reads the module's Go files and refuses a
// call that stops a test (require.*, t.Fatal, t.FailNow, t.Skip, ...)
// inside a goroutine started with `go func` or `wg.Go(func`: FailNow must
// be called on the test goroutine, so goroutines collect their errors and
// the test checks them after they are done.
func TestFailNowOnlyOnTestGoroutine(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if body := goroutineBody(n); body != nil {
				ast.Inspect(body, func(m ast.Node) bool {
					if name := stopsTest(m); name != "" {
						found = append(found, fset.Position(m.Pos()).String()+": "+name)
					}
					return true
				})
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	require.Empty(t, found, "calls that stop a test from a goroutine other than the test's")
}

// goroutineBody returns the body of the function literal that n starts as
// a goroutine (go func(){...}() or x.Go(func(){...})), or nil.
func goroutineBody(n ast.Node) *ast.BlockStmt {
	switch x := n.(type) {
	case *ast.GoStmt:
		if lit, ok := x.Call.Fun.(*ast.FuncLit); ok {
			return lit.Body
		}
	case *ast.CallExpr:
		if sel, ok := x.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Go" && len(x.Args) == 1 {
			if lit, ok := x.Args[0].(*ast.FuncLit); ok {
				return lit.Body
			}
		}
	}
	return nil
}

// stopsTest names the call n if it can stop a test: any require function,
// or Fatal, FailNow or Skip on a variable named t, b or tb.
func stopsTest(n ast.Node) string {
	call, ok := n.(*ast.CallExpr)
	if !ok {
		return ""
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return ""
	}
	switch {
	case id.Name == "require":
		return "require." + sel.Sel.Name
	case id.Name == "t" || id.Name == "b" || id.Name == "tb":
		switch sel.Sel.Name {
		case "Fatal", "Fatalf", "FailNow", "Skip", "Skipf", "SkipNow":
			return id.Name + "." + sel.Sel.Name
		}
	}
	return ""
}
