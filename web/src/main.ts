// The web app's entry: the stylesheet, the TV layout (tv.ts, before the first page is drawn),
// the router (app.ts) and arrow-key navigation (spatial.ts).
import './style.css';
import { startTvLayout } from './lib/tv';
import './app';
import { installSpatialNavigation } from './lib/spatial';

startTvLayout();
installSpatialNavigation();
