// Starts Swagger UI on the page /swagger, reading the document of the same
// surface. It is a file of its own, not an inline script, so that the page's
// Content-Security-Policy can forbid inline scripts.
"use strict";
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // The public validator badge would load an image from another site.
    validatorUrl: null,
  });
});
