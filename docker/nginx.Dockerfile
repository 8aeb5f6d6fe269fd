# nginx in front of gunicorn: static files, private media after Django's check
# (X-Accel-Redirect), uploads buffered. The site configuration is nginx/templates/, mounted
# at /etc/nginx/templates/ and rendered by the image's entrypoint with envsubst at start.
FROM nginx:1.28.0-alpine

# Runs entirely as the unprivileged `nginx` user, so it listens on 8080 (compose publishes
# it). Media files are written by the app (uid/gid 10001, mode 0640): nginx reads them as a
# member of that group.
RUN addgroup -S -g 10001 app \
 && addgroup nginx app \
 && rm -f /etc/nginx/conf.d/default.conf \
 && sed -i -e 's,^pid .*,pid /tmp/nginx.pid;,' -e '/^user /d' /etc/nginx/nginx.conf \
 && chown -R nginx:nginx /var/cache/nginx /etc/nginx/conf.d

USER nginx
EXPOSE 8080

# nginx itself answers (a static file it serves without gunicorn).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD wget -q -O /dev/null "http://127.0.0.1:${LISTEN_PORT:-8080}/static/css/app.css" || exit 1
