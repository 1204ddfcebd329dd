package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/usherhq/usher/internal/api/apidoc/doctest"
	"github.com/usherhq/usher/internal/api/public"
	"github.com/usherhq/usher/internal/api/thunder"
)

// cspWatch records, in the page, every Content-Security-Policy violation:
// a script or style the page's policy blocked would leave Swagger UI
// broken or incomplete.
const cspWatch = `window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI);
});`

// TestSwaggerUIRendersUnderItsCSP opens /swagger of the public and Thunder
// surfaces in a real browser: under the page's Content-Security-Policy,
// Swagger UI loads the surface's document and shows every operation, with
// no policy violation and no script error. (The backend's page is the same
// page behind mutual TLS.)
func TestSwaggerUIRendersUnderItsCSP(t *testing.T) {
	alloc := chromiumAllocator(t)
	s := startServer(t, withThunder)

	for _, sf := range []struct {
		name, base string
		src        []byte
	}{
		{"public", s.Public, public.OpenAPI()},
		{"thunder", s.ThunderAPI.base, thunder.OpenAPI()},
	} {
		t.Run(sf.name, func(t *testing.T) {
			ctx, cancel := chromedp.NewContext(alloc)
			defer cancel()
			ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
			defer cancelTimeout()
			var mu sync.Mutex
			var problems []string
			err := chromedp.Listen(ctx, func(ev any) {
				mu.Lock()
				defer mu.Unlock()
				switch ev := ev.(type) {
				case *runtime.EventExceptionThrown:
					d := ev.ExceptionDetails
					if d.Exception != nil {
						problems = append(problems, "exception: "+d.Exception.Description)
					} else {
						problems = append(problems, "exception: "+d.Text)
					}
				case *runtime.EventConsoleAPICalled:
					if ev.Type == runtime.ConsoleAPICalledTypeError {
						var args []string
						for _, a := range ev.Args {
							args = append(args, string(a.Value)+a.Description)
						}
						problems = append(problems, "console error: "+strings.Join(args, " "))
					}
				case *log.EventEntryAdded:
					if ev.Entry.Level == log.EntryLevelError {
						problems = append(problems, fmt.Sprintf("%s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
					}
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
				t.Fatal(err)
			}
			if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
				t.Fatal(err)
			}
			if err := chromedp.Do(ctx, chromedp.Navigate(sf.base+"/swagger"), chromedp.WaitVisible(chromedp.CSS(".opblock"))); err != nil {
				t.Fatalf("swagger page: %v", err)
			}
			shown, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(".opblock").length`))
			if err != nil {
				t.Fatal(err)
			}
			violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__cspViolations`))
			if err != nil {
				t.Fatal(err)
			}
			if want := len(doctest.Operations(doctest.Load(t, sf.src))); shown != want {
				t.Errorf("Swagger UI shows %d operations, want the document's %d", shown, want)
			}
			for _, v := range violations {
				t.Errorf("CSP violation: %s", v)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range problems {
				t.Errorf("browser: %s", p)
			}
		})
	}
}
