"""The report page's stylesheet (one static string, inlined into index.html)."""

PAGE_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:24px auto;max-width:1240px;
     color:#1d2330;background:#f7f8fa;padding:0 16px}
h1{margin-bottom:4px}h2{margin-top:28px;border-bottom:2px solid #dde3ee;padding-bottom:4px}
h3{margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0;background:#fff;font-size:13px}
td,th{border:1px solid #d6dbe4;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#e9eef8}td.num{text-align:right;font-variant-numeric:tabular-nums}
.fail{color:#b3261e;font-weight:600}.ok{color:#1b7a35;font-weight:600}
.note{color:#5a6272;font-size:13px;margin:2px 0}
.cards{display:flex;gap:16px;margin:16px 0}
.card{background:#fff;border:1px solid #d6dbe4;border-radius:8px;padding:12px 20px;min-width:170px}
.card .value{font-size:30px;font-weight:700;color:#2a4fa8}.card .label{font-size:13px;color:#5a6272}
.plots img{height:300px;width:auto;max-width:49%;margin-right:1%;background:#fff;border:1px solid #d6dbe4}
section{background:#fff;border:1px solid #d6dbe4;border-radius:8px;padding:8px 16px 16px;margin:16px 0}
.media{display:flex;gap:12px;align-items:flex-start;flex-wrap:wrap}
.media video{width:860px;max-width:100%;background:#111}
.media img.map{width:300px;border:1px solid #d6dbe4}
ul{margin:6px 0;font-size:13px}
"""
