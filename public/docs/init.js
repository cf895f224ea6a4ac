// Starts Swagger UI on the API's own OpenAPI document (kept out of the HTML so the page's CSP can forbid inline scripts).
window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true });
