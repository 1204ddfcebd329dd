package thunder_test

import (
	"net/http"
	"testing"

	"github.com/usherhq/usher/internal/api/thunder"
)

// strict allows exactly one property of each type, all required.
func strict(c *thunder.Config) {
	c.Properties = thunder.Properties{Allowed: []thunder.Property{
		{Name: "plan", Type: "string"}, {Name: "seats", Type: "integer"}, {Name: "ratio", Type: "double"},
		{Name: "beta", Type: "boolean"}, {Name: "tags", Type: "list"}, {Name: "prefs", Type: "map"},
	}}
}

// allowing is strict, then changed by mod.
func allowing(mod func(*thunder.Properties)) func(*thunder.Config) {
	return func(c *thunder.Config) {
		strict(c)
		mod(&c.Properties)
	}
}

func TestProperties(t *testing.T) {
	const all = `"plan":"pro","seats":3,"ratio":-0.5,"beta":false,"tags":["a"],"prefs":{"x":1}`
	user := func(props string) string {
		return `{"email":{"address":"sam@example.com"},"password":"` + samPassword + `",` + props + `}`
	}
	invalid := "Cannot post a user with invalid properties. (User: sam@example.com)"
	subset := allowing(func(p *thunder.Properties) { p.AllowSubset = true })
	superset := allowing(func(p *thunder.Properties) { p.AllowSuperset = true })
	run(t, []scenario{
		{name: "every type", cfg: strict, method: "POST", path: "/users", header: auth, body: user(all), status: http.StatusCreated, wantJSON: tuser("sam@example.com", false, false, ","+all)},
		{name: "a double written as an integer", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":3,"ratio":2,"beta":true,"tags":[],"prefs":{}`), status: http.StatusCreated, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro","seats":3,"ratio":2,"beta":true,"tags":[],"prefs":{}`)},
		{name: "string: a number", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":1,"seats":3,"ratio":1.5,"beta":false,"tags":[],"prefs":{}`), status: 400, wantText: invalid},
		{name: "integer: a fraction", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":3.5,"ratio":1.5,"beta":false,"tags":[],"prefs":{}`), status: 400, wantText: invalid},
		{name: "integer: past int64", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":9223372036854775808,"ratio":1.5,"beta":false,"tags":[],"prefs":{}`), status: 400, wantText: invalid},
		{name: "integer: a string", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":"3","ratio":1.5,"beta":false,"tags":[],"prefs":{}`), status: 400, wantText: invalid},
		{name: "double: a string", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":3,"ratio":"1.5","beta":false,"tags":[],"prefs":{}`), status: 400, wantText: invalid},
		{name: "boolean: a string", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":3,"ratio":1.5,"beta":"true","tags":[],"prefs":{}`), status: 400, wantText: invalid},
		{name: "list: a map", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":3,"ratio":1.5,"beta":false,"tags":{},"prefs":{}`), status: 400, wantText: invalid},
		{name: "map: a list", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro","seats":3,"ratio":1.5,"beta":false,"tags":[],"prefs":[]`), status: 400, wantText: invalid},
		{name: "null is no type", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":null,"seats":3,"ratio":1.5,"beta":false,"tags":[],"prefs":{}`), status: 400, wantText: invalid},
		{name: "a missing property", cfg: strict, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro"`), status: 400, wantText: invalid},
		{name: "a missing property, subset allowed", cfg: subset, method: "POST", path: "/users", header: auth, body: user(`"plan":"pro"`), status: http.StatusCreated, wantJSON: tuser("sam@example.com", false, false, `,"plan":"pro"`)},
		{name: "a wrong type, subset allowed", cfg: subset, method: "POST", path: "/users", header: auth, body: user(`"plan":true`), status: 400, wantText: invalid},
		{name: "an extra property", cfg: strict, method: "POST", path: "/users", header: auth, body: user(all + `,"extra":1`), status: 400, wantText: invalid},
		{name: "an extra property, superset allowed", cfg: superset, method: "POST", path: "/users", header: auth, body: user(all + `,"extra":1`), status: http.StatusCreated, wantJSON: tuser("sam@example.com", false, false, ","+all+`,"extra":1`)},
		{name: "invalid properties and an invalid email", cfg: strict, method: "POST", path: "/users", header: auth, body: `{"email":{"address":"bad"},"password":"` + samPassword + `"}`, status: 400, wantText: "Invalid email address format. Please try again. (User: bad)"},
		{name: "invalid properties and no password", cfg: strict, method: "POST", path: "/users", header: auth, body: `{"email":{"address":"sam@example.com"}}`, status: 400, wantText: invalid},
		{name: "invalid properties on update", cfg: strict, setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: user(`"plan":"pro"`), status: 400, wantText: invalid, after: wantUser("sam@example.com", samPassword, true)},
		{name: "valid properties on update", cfg: strict, setup: withSam(nil), method: "PUT", path: "/users?email=sam@example.com", header: withPw, body: user(all), status: http.StatusOK, wantJSON: tuser("sam@example.com", false, false, ","+all)},
	})
}
