// WGS84 -> GCJ-02, the datum of most Chinese map apps (AMap, Tencent):
// stored coordinates are WGS84, and a "where to go" link must be shifted
// or it lands hundreds of metres off.  The published approximation
// (Krasovsky 1940 ellipsoid); outside China the coordinates are unchanged.
(function (root) {
  const A = 6378245.0, EE = 0.00669342162296594323;
  function outside(lon, lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }
  function tlat(x, y) {
    let r = -100 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y +
        0.2 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) *
        2 / 3;
    r += (20 * Math.sin(y * Math.PI) + 40 * Math.sin(y / 3 * Math.PI)) * 2 / 3;
    r += (160 * Math.sin(y / 12 * Math.PI) + 320 * Math.sin(y * Math.PI / 30)) *
        2 / 3;
    return r;
  }
  function tlon(x, y) {
    let r = 300 + x + 2 * y + 0.1 * x * x + 0.1 * x * y +
        0.1 * Math.sqrt(Math.abs(x));
    r += (20 * Math.sin(6 * x * Math.PI) + 20 * Math.sin(2 * x * Math.PI)) *
        2 / 3;
    r += (20 * Math.sin(x * Math.PI) + 40 * Math.sin(x / 3 * Math.PI)) * 2 / 3;
    r += (150 * Math.sin(x / 12 * Math.PI) + 300 * Math.sin(x / 30 * Math.PI)) *
        2 / 3;
    return r;
  }
  function wgs84ToGcj02(lon, lat) {
    if (outside(lon, lat)) return [lon, lat];
    let dlat = tlat(lon - 105, lat - 35), dlon = tlon(lon - 105, lat - 35);
    const rad = lat / 180 * Math.PI;
    let magic = Math.sin(rad);
    magic = 1 - EE * magic * magic;
    const sq = Math.sqrt(magic);
    dlat = (dlat * 180) / ((A * (1 - EE)) / (magic * sq) * Math.PI);
    dlon = (dlon * 180) / (A / sq * Math.cos(rad) * Math.PI);
    return [lon + dlon, lat + dlat];
  }
  root.wgs84ToGcj02 = wgs84ToGcj02;
  if (typeof module !== 'undefined') module.exports = { wgs84ToGcj02 };
})(typeof window !== 'undefined' ? window : globalThis);
