() => {
  const main = document.querySelector('main'); if (!main) return [];
  const right = main.getBoundingClientRect().right; const bad = [];
  const name = el => el.tagName.toLowerCase() + (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '');
  const clipped = el => { for (let a = el.parentElement; a && a !== main; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== 'visible') return true; } return false; };
  for (const el of main.querySelectorAll('table, figure, svg, pre, img, p, ul, dl, form')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > right + 1 && !clipped(el)) bad.push(name(el) + ' reaches ' + Math.round(r.right) + ' of ' + Math.round(right));
  }
  for (const s of main.querySelectorAll('.scroll')) if (s.scrollWidth > s.clientWidth + 1) bad.push('scrolls: ' + name(s.firstElementChild));
  return bad;
}
