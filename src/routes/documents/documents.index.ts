import { MAX_UPLOAD_BODY_BYTES, UPLOADER_ROLES } from "../../documents/service";
import { newRouter } from "../../lib/validation-hook";
import * as handlers from "./documents.handlers";
import * as routes from "./documents.routes";
import { uploadBody } from "./upload-body";

/**
 * Provider documents: requirements, uploads, signed file links, the provider's verification state and
 * the admins' review queue. The upload's own body limit runs before the route's form parser.
 */
const router = newRouter();
// Registered first, so it runs before the route's own middleware and form validator.
router.use("/documents", uploadBody(MAX_UPLOAD_BODY_BYTES, UPLOADER_ROLES));

export const documentsRouter = router
  .openapi(routes.requirements, handlers.requirements)
  .openapi(routes.upload, handlers.upload)
  .openapi(routes.mine, handlers.mine)
  .openapi(routes.one, handlers.one)
  .openapi(routes.file, handlers.file)
  .openapi(routes.verification, handlers.verification)
  .openapi(routes.queue, handlers.queue)
  .openapi(routes.review, handlers.review);
