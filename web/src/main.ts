// The web app's entry: the stylesheet, the router (app.ts) and arrow-key navigation (spatial.ts).
import './style.css';
import './app';
import { installSpatialNavigation } from './lib/spatial';

installSpatialNavigation();
