// The Data panel's upload: each file goes to the server in pieces over trame's websocket
// (SGRSStudio/upload_receiver.py), so the page can say how far it is: per cent of the bytes the
// server has received, the rate and the time left. One message per file showed only a busy bar.
(function () {
  const MB = 1048576;

  function timeLeft(seconds) {
    if (!isFinite(seconds)) return "";
    if (seconds < 60) return `, about ${Math.max(1, Math.round(seconds))} s left`;
    return `, about ${Math.round(seconds / 60)} min left`;
  }

  window.sgrsUpload = async function (trame, files, limitBytes, chunkBytes) {
    files = [].concat(files || []);
    const big = files.find((f) => f.size > limitBytes);
    if (big) {   // never sent: the server would refuse it after the whole transfer
      trame.trigger("notify", [`upload refused: ${big.name} is ${Math.round(big.size / MB)} MB, above the ` +
                               `${Math.round(limitBytes / MB)} MB limit (--max-upload-mb)`, "error"]);
      return;
    }
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const started = performance.now();
    let sent = 0;
    const show = (text, percent) => {
      trame.state.set("data_upload_progress", percent);
      trame.state.set("data_uploading", text);
    };
    try {
      for (const [i, file] of files.entries()) {
        const which = files.length > 1 ? ` (${i + 1} of ${files.length})` : "";
        show(`Uploading ${file.name}${which}: 0 % of ${(total / MB).toFixed(1)} MB`, 0);
        const token = await trame.trigger("upload_begin", [file.name, file.size]);
        if (!token) return;   // refused: the server put the reason at the top of the panels
        for (let offset = 0; offset < file.size; offset += chunkBytes) {
          const piece = new DataView(await file.slice(offset, offset + chunkBytes).arrayBuffer());
          if ((await trame.trigger("upload_chunk", [token, offset, piece])) == null) return;
          sent += piece.byteLength;
          const seconds = (performance.now() - started) / 1000;
          const rate = seconds > 0 ? sent / seconds : 0;
          const percent = Math.floor((100 * sent) / total);
          show(`Uploading ${file.name}${which}: ${percent} % of ${(total / MB).toFixed(1)} MB, ` +
               `${(rate / MB).toFixed(1)} MB/s${timeLeft(rate > 0 ? (total - sent) / rate : NaN)}`, percent);
        }
        show(`Reading ${file.name}…`, 100);
        if (!(await trame.trigger("upload_finish", [token]))) return;
      }
    } finally {
      show("", 0);
    }
  };
})();
