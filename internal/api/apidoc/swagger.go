package apidoc

import (
	_ "embed"
	"net/http"
)

// The files of swagger-ui-dist that the page needs (swaggerui/README.md),
// and the page's own initialiser.
var (
	//go:embed swaggerui/swagger-ui-bundle.js
	bundleJS string
	//go:embed swaggerui/swagger-ui.css
	bundleCSS string
	//go:embed swagger-initializer.js
	initJS string
)

type asset struct {
	name, contentType, body string
}

// assets returns the files served under /swagger/.
func assets() []asset {
	return []asset{
		{"swagger-ui-bundle.js", "text/javascript; charset=utf-8", bundleJS},
		{"swagger-ui.css", "text/css; charset=utf-8", bundleCSS},
		{"swagger-initializer.js", "text/javascript; charset=utf-8", initJS},
	}
}

func (a asset) serve(w http.ResponseWriter, _ *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	// The files change only with Usher's build; a day's caching spares
	// reloading 1.7 MB of script on every visit.
	h.Set("Cache-Control", "public, max-age=86400")
	_, err := w.Write([]byte(a.body))
	return err
}

// CSP is the Content-Security-Policy of the Swagger UI page: its scripts,
// styles and the documents it reads come from this listener only, nothing
// inline runs, and no other site may frame it. Swagger UI draws its icons
// as data: images.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// The asset paths are relative to /swagger, so the page also works behind
// a proxy that serves the surface under a path prefix. The empty icon
// spares browsers asking for /favicon.ico, which no surface serves.
const page = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API documentation</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="swagger/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="swagger/swagger-ui-bundle.js"></script>
<script src="swagger/swagger-initializer.js"></script>
</body>
</html>
`

func swaggerPage(w http.ResponseWriter, _ *http.Request) error {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	_, err := w.Write([]byte(page))
	return err
}
