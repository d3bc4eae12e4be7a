"""Folium maps and HTML briefings, with Leaflet assets served locally (no CDN)."""
