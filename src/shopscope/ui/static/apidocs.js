/* Start Swagger UI (/docs) from local assets; the page names the OpenAPI URL. */
(function () {
  "use strict";

  var swagger = document.getElementById("swagger-ui");
  if (swagger && window.SwaggerUIBundle) {
    window.SwaggerUIBundle({
      url: swagger.getAttribute("data-openapi"),
      dom_id: "#swagger-ui",
      deepLinking: true,
      // the online validator badge would call a host on the internet
      validatorUrl: null,
      presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
      layout: "BaseLayout"
    });
  }
})();
