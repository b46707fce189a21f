package render_test

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/falco-reporter/falco-reporter/internal/render"
	"github.com/falco-reporter/falco-reporter/internal/report"
	"github.com/falco-reporter/falco-reporter/internal/rules"
	"github.com/falco-reporter/falco-reporter/internal/safe"
)

func TestHTMLGolden(t *testing.T) {
	rs := demoReports(t)
	for _, i := range []int{0, 3, 12} {
		r := rs[i]
		if i == 3 {
			r.Occurrences, r.Samples = 3, map[string][]string{"proc.cmdline": {"ln /etc/shadow /tmp/b", "ln /etc/shadow /tmp/c"}}
		}
		b, err := render.HTML(&r, "../index.html")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, safe.Slug(r.Rule, 48)+".html", b)
	}
	b, err := render.HTMLIndex(entries(rs), "13 reports of the last 720h", goldenEnd)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "index.html", b)
}

// The structure a page may have: its elements, and for each the
// attributes and the values they may take. Nothing here comes from a
// report; the test proves no value adds to it.
var (
	allowedAttrs = map[string]map[string]*regexp.Regexp{
		"html":  {"lang": regexp.MustCompile(`^en$`)},
		"meta":  {"charset": regexp.MustCompile(`^utf-8$`), "http-equiv": regexp.MustCompile(`^Content-Security-Policy$`), "content": regexp.MustCompile(`^(` + regexp.QuoteMeta(render.CSP) + `|no-referrer|width=device-width, initial-scale=1)$`), "name": regexp.MustCompile(`^(referrer|viewport)$`)},
		"a":     {"href": regexp.MustCompile(`^(\.\./index\.html|\./[A-Za-z0-9._~%/:@!$&'()*+,;=-]+\.(html|md))$`)},
		"time":  {"datetime": regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`)},
		"th":    {"scope": regexp.MustCompile(`^row$`)},
		"class": nil, // see classAttr
	}
	classAttr     = regexp.MustCompile(`^(p-(emergency|alert|critical|error|warning|notice|informational|debug|unknown)|badge|meta|muted|changes|counts|n)$`)
	allowedPlain  = "head body title style nav header p span code h1 h2 main table tbody tr th td ol ul li pre"
	allowedHTMLEl = map[string]bool{}
)

func init() {
	for _, e := range strings.Fields(allowedPlain) {
		allowedHTMLEl[e] = true
	}
	for e := range allowedAttrs {
		allowedHTMLEl[e] = true
	}
}

// checkStructure parses page and fails on any element, attribute or
// attribute value outside the allowed set, on a comment, and on a style
// element that is not ours.
func checkStructure(t *testing.T, page []byte) {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.CommentNode:
			t.Errorf("comment in the page: %q", n.Data)
		case html.ElementNode:
			if !allowedHTMLEl[n.Data] || n.Data == "class" {
				t.Errorf("element <%s> is not one of the page's own", n.Data)
			}
			for _, a := range n.Attr {
				if a.Namespace != "" {
					t.Errorf("<%s> has a namespaced attribute %s:%s", n.Data, a.Namespace, a.Key)
					continue
				}
				if a.Key == "class" {
					if !classAttr.MatchString(a.Val) {
						t.Errorf("<%s class=%q>: not one of the page's classes", n.Data, a.Val)
					}
					continue
				}
				re, ok := allowedAttrs[n.Data][a.Key]
				if !ok || !re.MatchString(a.Val) {
					t.Errorf("<%s %s=%q>: attribute or value not the page's own", n.Data, a.Key, trunc(a.Val))
				}
			}
			if n.Data == "style" && (n.FirstChild == nil || n.FirstChild.Data != render.CSS || n.FirstChild.NextSibling != nil) {
				t.Error("the style element holds something else than the page's style")
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
}

// TestHTMLHostileValuesStayText renders reports and an index made of
// hostile alerts and proves, on the parsed documents, that no element or
// attribute came from a value: every value is text.
func TestHTMLHostileValuesStayText(t *testing.T) {
	table := rules.Default()
	var es []report.Entry
	for _, h := range hostile {
		for _, rule := range []string{"Create Hardlink Over Sensitive Files", "A custom rule " + h.value} {
			t.Run(h.name+"/"+rule[:8], func(t *testing.T) {
				a := alertWith(rule, h.value)
				r, err := table.Build(&a)
				if err != nil {
					t.Fatal(err)
				}
				r.ID, r.Occurrences = h.value, 2
				r.Samples = map[string][]string{h.value: {h.value}}
				r.MITRE = append(r.MITRE, report.Technique{ID: h.value, Name: h.value, Tactic: h.value})
				page, err := render.HTML(&r, "../index.html")
				if err != nil {
					t.Fatal(err)
				}
				checkClean(t, string(page))
				checkStructure(t, page)
				if len(page) > 2<<20 {
					t.Errorf("page is %d bytes: long values are not capped", len(page))
				}
				es = append(es, report.Entry{ID: h.value, Rule: r.Rule, Source: h.value, Priority: h.value, Hostname: h.value,
					Title: r.Title.String(), Subject: h.value, Occurrences: 1, FirstSeen: report.Time{Time: time.Unix(0, 0)}, LastSeen: report.Time{Time: time.Unix(0, 0)},
					Files: report.Files{HTML: "javascript:alert(1)/x\"><script>alert(1)</script>.html", Markdown: h.value}})
			})
		}
	}
	es = append(es, report.Entry{Priority: "Warning", Files: report.Files{Markdown: "2026-04-02/a b#c?d.md"}})
	page, err := render.HTMLIndex(es, "hostile", goldenEnd)
	if err != nil {
		t.Fatal(err)
	}
	checkStructure(t, page)
	if !bytes.Contains(page, []byte(`href="./2026-04-02/a%20b%23c%3Fd.md"`)) {
		t.Error("a file name is not percent-encoded in its link")
	}
}
